"""Helpers for tests of the networks."""

import torch


def random_head(model: torch.nn.Module) -> torch.nn.Module:
    """The zero-initialised head given weights: an untrained network would output zeros."""
    for parameter in model.head.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    return model
