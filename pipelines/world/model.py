"""A forced-dissipative shallow-water model on the sphere, batched, in torch.

State: spectral coefficients of geopotential Phi = g h, relative vorticity zeta and
divergence delta, shape (batch, 3, L, M) complex. Equations (vector-invariant form;
Williamson et al. 1992, J. Comput. Phys. 102, 211-224)::

    d zeta/dt  = -div((zeta + f) u) + F                          - zeta / tau_drag
    d delta/dt =  curl((zeta + f) u) - lap(Phi + |u|^2/2)        - delta / tau_drag
    d Phi/dt   = -div((Phi - Phi_s) u) + (Phi_eq(lat, t) - Phi) / tau_rad

with Phi = g (h + h_s) the geopotential of the free surface, Phi_s = g h_s a bottom
topography and Phi - Phi_s the layer thickness. The
relaxation profile Phi_eq holds a sharp mid-latitude gradient (a jet), two mountains
pin stationary waves, and a random, red-in-time vorticity stirring at synoptic
scales (wavenumbers 6-14, decorrelation of two days) plays the unresolved
baroclinic eddies, so the flow is chaotic and weather-like. The stirring is drawn
from a seeded generator: a run is deterministic for its seed, and ensemble members
with different stirring are a stochastic-physics ensemble. Time stepping is
semi-implicit: the gravity-wave terms (-lap Phi in the divergence equation, -Phi_bar delta
in the geopotential equation) by Crank-Nicolson, everything else by third-order
Adams-Bashforth (Durran 2010, Numerical Methods for Fluid Dynamics, sect. 8.6), so the
time step is limited by the winds, not by the ~230 m/s gravity waves; then implicit
del^8 hyperdiffusion. The spherical-harmonic transforms are torch-harmonics'.
"""

from __future__ import annotations

import math
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

    def as_dict(self) -> dict:
        return asdict(self)


class ShallowWater(torch.nn.Module):
    """Batched spectral shallow-water model on an equiangular (pole-including) grid."""

    def __init__(self, nlat: int, nlon: int, dt: float, physics: Physics) -> None:
        super().__init__()
        self.nlat, self.nlon, self.dt, self.physics = nlat, nlon, dt, physics
        p = physics
        dtype = torch.float64
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
        lats = -torch.as_tensor(np.arcsin(cost), dtype=dtype)  # north to south
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
        real = torch.randn(shape, generator=generator, dtype=torch.float64, device=generator.device)
        imag = torch.randn(shape, generator=generator, dtype=torch.float64, device=generator.device)
        return p.stirring * self.band_scale * self.band * torch.complex(real, imag)

    def winds(self, spec: torch.Tensor) -> torch.Tensor:
        """(u, v) on the grid from vorticity and divergence coefficients: (..., 2, nlat, nlon)."""
        return self.ivsht(self.invlap * spec[..., 1:, :, :] / self.physics.radius)

    def vrtdiv(self, vector: torch.Tensor) -> torch.Tensor:
        """Spectral (curl, div) of a grid vector field (..., 2, nlat, nlon)."""
        return self.lap * self.physics.radius * self.vsht(vector)

    def tendency(self, spec: torch.Tensor, stirring: torch.Tensor) -> torch.Tensor:
        p = self.physics
        grid = self.isht(spec)
        phi, zeta = grid[:, 0], grid[:, 1]
        uv = self.winds(spec)
        absolute = uv * (zeta + self.coriolis).unsqueeze(1)
        flux_spec = self.vrtdiv(absolute)
        thickness = self.vrtdiv(uv * (phi - self.phi_s).unsqueeze(1))
        kinetic = self.sht(phi + 0.5 * (uv**2).sum(dim=1))
        out = torch.empty_like(spec)
        out[:, 1] = -flux_spec[:, 1] + stirring - spec[:, 1] / (p.tau_drag_days * DAY)
        out[:, 2] = flux_spec[:, 0] - self.lap * kinetic - spec[:, 2] / (p.tau_drag_days * DAY)
        out[:, 0] = -thickness[:, 1] + self.sht(self.phi_eq - phi) / (p.tau_rad_days * DAY)
        return out

    def initial_state(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Flat free surface at the mean depth, at rest, plus small seeded vorticity noise."""
        p = self.physics
        options = {"dtype": torch.float64, "device": generator.device}
        phi = torch.full((batch, self.nlat, self.nlon), p.gravity * p.mean_depth, **options)
        noise = 1e-6 * torch.randn(batch, self.nlat, self.nlon, generator=generator, **options)
        grid = torch.stack([phi, noise, torch.zeros_like(noise)], dim=1)
        return torch.tril(self.sht(grid))

    def run(
        self, spec: torch.Tensor, forcing: torch.Tensor, steps: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance ``steps`` time steps (AB3, with Euler and AB2 to start).

        ``forcing`` is the current stirring (batch, L, M); it evolves as an AR(1)
        process, F <- a F + sqrt(1 - a^2) xi, with a = exp(-dt / stirring time).
        Returns the new state and forcing.
        """
        keep = math.exp(-self.dt / (self.physics.stirring_days * DAY))
        fresh = math.sqrt(1.0 - keep**2)
        dt, phi_bar, lap = self.dt, self.physics.gravity * self.physics.mean_depth, self.lap
        history: list[torch.Tensor] = []
        for _ in range(steps):
            forcing = keep * forcing + fresh * self.stirring_noise(spec.shape[0], generator)
            explicit = self.tendency(spec, forcing)
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
        return spec, forcing

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
