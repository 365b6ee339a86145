"""forecast: generative ensemble emulation, post-processing and scoring of weather forecasts."""

__version__ = "0.1.0"
