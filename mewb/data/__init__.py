"""Datasets: readers returning ``list[Sample]``, frames, faces, flow, EVM, cache, torch Dataset."""

from mewb.data.sample import Sample

__all__ = ["Sample"]
