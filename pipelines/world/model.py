"""A forced-dissipative shallow-water model on the sphere, batched, in torch.

State: spectral coefficients of geopotential Phi = g h, relative vorticity zeta,
divergence delta and column water vapour q, shape (batch, 4, L, M) complex. Equations
(vector-invariant form; Williamson et al. 1992, J. Comput. Phys. 102, 211-224)::

    d zeta/dt  = -div((zeta + f) u) + F                          - zeta / tau_drag
    d delta/dt =  curl((zeta + f) u) - lap(Phi + |u|^2/2)        - delta / tau_drag
    d Phi/dt   = -div((Phi - Phi_s) u) + (Phi_eq(lat) - Phi) / tau_rad
    d q/dt     = -u . grad q + E - P

Moisture is a passive tracer (no latent heating): its saturation value grows
exponentially with the layer thickness, q_sat = q_ref exp((Phi - Phi_s - g H) / (g H_q)),
the way saturation vapour pressure grows with the temperature of the column below the
500 hPa surface (Clausius-Clapeyron; thickness is proportional to mean temperature), so
air that moves poleward, over a mountain, into a trough or under divergence (the
surface falls: ascent) condenses. Evaporation E = max(r q_sat - q, 0) / tau_evap moistens
the column toward a relative humidity r; condensation P = max(q - q_sat, 0) / tau_cond
rains out the excess, which is the precipitation.

with Phi = g (h + h_s) the geopotential of the free surface, Phi_s = g h_s a bottom
topography and Phi - Phi_s the layer thickness. The
relaxation profile Phi_eq holds a sharp mid-latitude gradient (a jet), two mountains
pin stationary waves, and a random, red-in-time vorticity stirring at synoptic
scales (wavenumbers 6-14, decorrelation of two days) plays the baroclinic eddies, so the
flow is chaotic and weather-like. The stirring F = sqrt(1 - u) F_w + sqrt(u) F_s has two
independent parts of the same statistics: F_w, the weather's own eddy forcing, which a
forecast of the same world knows (its innovations come from generators the forecast can
replay, :class:`SharedStirring`), and F_s, a fraction u of the variance that no forecast
knows (its innovations are each run's own), so that error growth comes from the flow's
instability and from u, and skill lasts beyond day 10 the way the atmosphere's does. A
run is deterministic for its seeds, and ensemble members with different F_s are a
stochastic-physics ensemble. Time stepping is
semi-implicit: the gravity-wave terms (-lap Phi in the divergence equation, -Phi_bar delta
in the geopotential equation) by Crank-Nicolson, everything else by third-order
Adams-Bashforth (Durran 2010, Numerical Methods for Fluid Dynamics, sect. 8.6), so the
time step is limited by the winds, not by the ~230 m/s gravity waves; then implicit
del^8 hyperdiffusion. The spherical-harmonic transforms are torch-harmonics'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch_harmonics as harmonics

DAY = 86400.0


@dataclass(frozen=True)
class Physics:
    """Physical settings; the model-error world changes a few of them."""

    radius: float = 6.37122e6
    omega: float = 7.292e-5
    gravity: float = 9.80616
    mean_depth: float = 5500.0  # m: the layer stands for the 500 hPa surface
    jet_drop: float = 700.0  # m: equator-to-pole drop of the relaxation height
    jet_latitude: float = 45.0  # degrees
    jet_width: float = 12.0  # degrees
    stirring: float = 8.0e-11  # s-2: rms vorticity forcing
    stirring_days: float = 2.0  # decorrelation time of the stirring
    stirring_band: tuple[int, int] = (6, 14)  # total wavenumbers stirred
    tau_rad_days: float = 4.0
    tau_drag_days: float = 10.0
    mountain_height: float = 900.0  # m
    hyperdiffusion_hours: float = 3.0  # e-folding time at the smallest scale
    unpredictable_stirring: float = 0.35  # u: variance fraction of the stirring no forecast knows
    moisture_reference: float = 20.0  # kg m-2: q_sat at the mean thickness
    moisture_height: float = 300.0  # m of thickness per e-folding of q_sat
    evaporation_humidity: float = 0.9  # r: relative humidity evaporation moistens toward
    evaporation_days: float = 1.5
    condensation_hours: float = 3.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SharedStirring:
    """Where the known part of the stirring's innovations comes from: one generator per
    trajectory, each repeated for ``repeats`` consecutive batch rows (the members of one
    forecast share their truth's weather)."""

    generators: Sequence[torch.Generator]
    repeats: int = 1

    def noise(self, model: ShallowWater) -> torch.Tensor:
        draws = [model.stirring_noise(1, generator) for generator in self.generators]
        return torch.cat(draws).repeat_interleave(self.repeats, dim=0)


class ShallowWater(torch.nn.Module):
    """Batched spectral shallow-water model on an equiangular (pole-including) grid."""

    channels = 4  # Phi, zeta, delta, q
    # single precision: half the cost of double, and the weather's growth of differences
    # swamps rounding (its statistics are what is tuned and measured)
    dtype = torch.float32

    def __init__(self, nlat: int, nlon: int, dt: float, physics: Physics) -> None:
        super().__init__()
        self.nlat, self.nlon, self.dt, self.physics = nlat, nlon, dt, physics
        p = physics
        dtype = self.dtype
        # Triangular truncation at nlon/3 ("quadratic grid"): products of two fields are
        # computed on the grid without aliasing back into the kept wavenumbers.
        truncation = nlon // 3 + 1
        kwargs = {"lmax": truncation, "mmax": truncation, "grid": "equiangular", "csphase": False}
        self.sht = harmonics.RealSHT(nlat, nlon, **kwargs).to(dtype)
        self.isht = harmonics.InverseRealSHT(nlat, nlon, **kwargs).to(dtype)
        self.vsht = harmonics.RealVectorSHT(nlat, nlon, **kwargs).to(dtype)
        self.ivsht = harmonics.InverseRealVectorSHT(nlat, nlon, **kwargs).to(dtype)
        lmax, mmax = self.sht.lmax, self.sht.mmax
        cost, _ = harmonics.quadrature.clenshaw_curtiss_weights(nlat, -1, 1)
        # the grid's coordinates in double precision whatever the model runs in: they are
        # what the world's stores carry, and a checkpoint's grid is compared with them
        self.latitudes = -torch.as_tensor(np.arcsin(cost), dtype=torch.float64)  # N to S
        self.longitudes = torch.linspace(0, 2 * math.pi, nlon + 1, dtype=torch.float64)[:nlon]
        lats = -torch.as_tensor(np.arcsin(cost), dtype=dtype)
        lons = torch.linspace(0, 2 * math.pi, nlon + 1, dtype=dtype)[:nlon]
        ell = torch.arange(lmax, dtype=dtype).reshape(-1, 1).expand(lmax, mmax)
        lap = -ell * (ell + 1) / p.radius**2
        invlap = -(p.radius**2) / (ell * (ell + 1))
        invlap[0] = 0.0
        hyper = torch.exp(-(dt / (p.hyperdiffusion_hours * 3600.0)) * (lap / lap[-1, 0]) ** 4)
        lat2d = lats.reshape(-1, 1).expand(nlat, nlon)
        lon2d = lons.reshape(1, -1).expand(nlat, nlon)
        mountains = torch.zeros(nlat, nlon, dtype=dtype)
        for lat0, lon0 in ((40.0, 100.0), (45.0, 250.0)):
            distance2 = (lat2d - math.radians(lat0)) ** 2 + (
                (lon2d - math.radians(lon0)) * torch.cos(lat2d)
            ) ** 2
            mountains += p.mountain_height * torch.exp(-distance2 / math.radians(12.0) ** 2)
        self.register_buffer("lats", lats)
        self.register_buffer("lons", lons)
        self.register_buffer("lap", lap)
        self.register_buffer("invlap", invlap)
        self.register_buffer("hyper", hyper)
        self.register_buffer("coriolis", (2 * p.omega * torch.sin(lats)).reshape(-1, 1))
        self.register_buffer("phi_s", p.gravity * mountains)
        low, high = p.stirring_band
        ell_index = torch.arange(truncation, dtype=dtype).reshape(-1, 1)
        band = ((ell_index >= low) & (ell_index <= high)).to(dtype).expand(truncation, truncation)
        band = torch.tril(band)
        self.register_buffer("band", band)
        # scale so that the band-limited noise has unit rms on the grid
        probe = self.isht(torch.complex(band, band).unsqueeze(0))
        self.band_scale = float(1.0 / probe.pow(2).mean().sqrt())
        self.register_buffer("phi_eq", self.equilibrium())

    def equilibrium(self) -> torch.Tensor:
        """Relaxation geopotential (nlat, nlon): H + drop/2, minus drop poleward of +-jet_latitude."""
        p = self.physics
        lat = torch.rad2deg(self.lats).reshape(-1, 1)
        step = 0.5 * (1 + torch.tanh((lat.abs() - p.jet_latitude) / p.jet_width))
        height = p.mean_depth + 0.5 * p.jet_drop - p.jet_drop * step
        return (p.gravity * height).expand(self.nlat, self.nlon)

    def stirring_noise(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """White-in-time spectral vorticity noise (batch, L, M) with unit-variance grid values
        times the stirring amplitude, confined to the stirred band of total wavenumbers."""
        p = self.physics
        shape = (batch, *self.band.shape)
        real = torch.randn(shape, generator=generator, dtype=self.dtype, device=generator.device)
        imag = torch.randn(shape, generator=generator, dtype=self.dtype, device=generator.device)
        return p.stirring * self.band_scale * self.band * torch.complex(real, imag)

    def winds(self, spec: torch.Tensor) -> torch.Tensor:
        """(u, v) on the grid from vorticity and divergence coefficients: (..., 2, nlat, nlon)."""
        return self.ivsht(self.invlap * spec[..., 1:3, :, :] / self.physics.radius)

    def vrtdiv(self, vector: torch.Tensor) -> torch.Tensor:
        """Spectral (curl, div) of a grid vector field (..., 2, nlat, nlon)."""
        return self.lap * self.physics.radius * self.vsht(vector)

    def balanced(self, vorticity: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        """A vorticity increment ``vorticity`` (batch, L, M) made into a state increment
        that does not excite gravity waves: the geopotential from the linear balance
        equation lap(Phi') = div(f grad psi'), lap(psi') = zeta' (the increment's
        divergence tendency about rest vanishes; e.g. Daley 1991, Atmospheric Data
        Analysis), and a moisture increment that keeps the relative humidity q / q_sat of
        ``spec``, so that no air is pushed above saturation. Returns (batch, 4, L, M)."""
        zero = torch.zeros_like(vorticity)
        # the irrotational wind of a potential psi' is grad(psi'): psi' in the divergence slot
        grad_psi = self.winds(torch.stack([zero, zero, vorticity], dim=1))
        coriolis_flux = self.vrtdiv(self.coriolis * grad_psi)[:, 1]
        phi = self.invlap * coriolis_flux
        moist_ratio = torch.exp(
            self.isht(phi) / (self.physics.gravity * self.physics.moisture_height)
        )
        q = self.isht(spec[:, 3])
        moisture = self.sht(q * (moist_ratio - 1.0))
        return torch.tril(torch.stack([phi, vorticity, zero, moisture], dim=1))

    def saturation(self, phi: torch.Tensor) -> torch.Tensor:
        """q_sat (kg m-2) of geopotential ``phi`` on the grid: exponential in the thickness."""
        p = self.physics
        thickness = (phi - self.phi_s) / p.gravity - p.mean_depth
        return p.moisture_reference * torch.exp(thickness / p.moisture_height)

    def moisture_sources(
        self, phi: torch.Tensor, q: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(evaporation E, condensation P) on the grid, kg m-2 s-1, both >= 0."""
        p = self.physics
        saturation = self.saturation(phi)
        evaporation = (p.evaporation_humidity * saturation - q).clamp(min=0)
        condensation = (q - saturation).clamp(min=0)
        return evaporation / (p.evaporation_days * DAY), condensation / (
            p.condensation_hours * 3600.0
        )

    def tendency(
        self, spec: torch.Tensor, stirring: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(d state / dt, precipitation rate on the grid in kg m-2 s-1)."""
        p = self.physics
        grid = self.isht(spec)
        phi, zeta, delta, q = grid.unbind(dim=1)
        uv = self.winds(spec)
        vectors = torch.stack(
            [
                uv * (zeta + self.coriolis).unsqueeze(1),
                uv * (phi - self.phi_s).unsqueeze(1),
                uv * q.unsqueeze(1),
            ],
            dim=1,
        )
        fluxes = self.vrtdiv(vectors)  # (batch, 3 vectors, curl/div, L, M)
        evaporation, precipitation = self.moisture_sources(phi, q)
        # the advective form -u.grad q = -div(q u) + q div u: moisture is carried, not squeezed
        scalars = self.sht(
            torch.stack(
                [phi + 0.5 * (uv**2).sum(dim=1), q * delta + evaporation - precipitation], dim=1
            )
        )
        out = torch.empty_like(spec)
        drag = 1.0 / (p.tau_drag_days * DAY)
        out[:, 1] = -fluxes[:, 0, 1] + stirring - spec[:, 1] * drag
        out[:, 2] = fluxes[:, 0, 0] - self.lap * scalars[:, 0] - spec[:, 2] * drag
        out[:, 0] = -fluxes[:, 1, 1] + self.sht(self.phi_eq - phi) / (p.tau_rad_days * DAY)
        out[:, 3] = -fluxes[:, 2, 1] + scalars[:, 1]
        return out, precipitation

    def initial_state(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Flat free surface at the mean depth, at rest, dry, plus small seeded vorticity noise."""
        p = self.physics
        options = {"dtype": self.dtype, "device": generator.device}
        phi = torch.full((batch, self.nlat, self.nlon), p.gravity * p.mean_depth, **options)
        noise = 1e-6 * torch.randn(batch, self.nlat, self.nlon, generator=generator, **options)
        zero = torch.zeros_like(noise)
        return torch.tril(self.sht(torch.stack([phi, noise, zero, zero], dim=1)))

    def initial_stirring(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Stirring state (batch, 2, L, M): the known and the unknown part, each stationary."""
        return torch.stack(
            [self.stirring_noise(batch, generator), self.stirring_noise(batch, generator)], dim=1
        )

    def run(
        self,
        spec: torch.Tensor,
        forcing: torch.Tensor,
        steps: int,
        generator: torch.Generator,
        shared: SharedStirring | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Advance ``steps`` time steps (AB3, with Euler and AB2 to start).

        ``forcing`` (batch, 2, L, M) holds the two parts of the stirring; each evolves as
        an AR(1) process, F <- a F + sqrt(1 - a^2) xi, with a = exp(-dt / stirring time),
        the known part's innovations xi from ``shared`` (from ``generator``, as the
        unknown part's, when None). Returns the new state, the new forcing and the
        precipitation accumulated over the steps (batch, nlat, nlon) in kg m-2.
        """
        p = self.physics
        keep = math.exp(-self.dt / (p.stirring_days * DAY))
        fresh = math.sqrt(1.0 - keep**2)
        known, unknown = (
            math.sqrt(1.0 - p.unpredictable_stirring),
            math.sqrt(p.unpredictable_stirring),
        )
        dt, phi_bar, lap = self.dt, p.gravity * p.mean_depth, self.lap
        batch = spec.shape[0]
        history: list[torch.Tensor] = []
        rain = torch.zeros(batch, self.nlat, self.nlon, dtype=self.dtype, device=spec.device)
        for _ in range(steps):
            weather = (
                shared.noise(self) if shared is not None else self.stirring_noise(batch, generator)
            )
            own = self.stirring_noise(batch, generator)
            forcing = keep * forcing + fresh * torch.stack([weather, own], dim=1)
            explicit, precipitation = self.tendency(
                spec, known * forcing[:, 0] + unknown * forcing[:, 1]
            )
            rain = rain + dt * precipitation
            # take the linear gravity-wave terms out of the explicit part
            explicit[:, 2] = explicit[:, 2] + lap * spec[:, 0]
            explicit[:, 0] = explicit[:, 0] + phi_bar * spec[:, 2]
            history.insert(0, explicit)
            history = history[:3]
            if len(history) == 1:
                increment = history[0]
            elif len(history) == 2:
                increment = 1.5 * history[0] - 0.5 * history[1]
            else:
                increment = (23 * history[0] - 16 * history[1] + 5 * history[2]) / 12
            new = spec + dt * increment
            # Crank-Nicolson for (delta, Phi): a 2x2 solve per coefficient
            a = new[:, 2] - 0.5 * dt * lap * spec[:, 0]
            b = new[:, 0] - 0.5 * dt * phi_bar * spec[:, 2]
            delta = (a - 0.5 * dt * lap * b) / (1 - 0.25 * dt * dt * phi_bar * lap)
            new[:, 2] = delta
            new[:, 0] = b - 0.5 * dt * phi_bar * delta
            spec = torch.tril(new)
            spec[:, 1:] = self.hyper * spec[:, 1:]
        return spec, forcing, rain

    def to_grid(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        """Physical fields on the grid, north to south: geopotential, u, v, vorticity."""
        grid = self.isht(spec)
        uv = self.winds(spec)
        return {"z500": grid[:, 0], "u500": uv[:, 0], "v500": uv[:, 1], "vo500": grid[:, 1]}

    def energy_enstrophy(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Area-mean total energy (thickness-weighted KE + PE, J kg^-1 m... per unit area / rho)
        and mean enstrophy zeta^2/2, per batch member."""
        grid = self.isht(spec)
        phi, zeta = grid[:, 0], grid[:, 1]
        uv = self.winds(spec)
        thickness = (phi - self.phi_s) / self.physics.gravity
        weights = torch.cos(self.lats).reshape(1, -1, 1)
        weights = weights / (weights.sum() * self.nlon)
        kinetic = 0.5 * thickness * (uv**2).sum(dim=1)
        potential = 0.5 * self.physics.gravity * thickness**2 + thickness * self.phi_s
        energy = ((kinetic + potential) * weights).sum(dim=(-2, -1))
        enstrophy = (0.5 * zeta**2 * weights).sum(dim=(-2, -1))
        return energy, enstrophy
