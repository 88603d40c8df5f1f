"""moto extension: DescribeRegions answers with the caller's partition only, as EC2 does.

moto 5.2 lists every Region it knows, China and GovCloud ones included, to a caller in the
aws partition; EC2 lists the Regions of the caller's own partition (an account lives in one).
"""

from __future__ import annotations

from moto.ec2.models.availability_zones_and_regions import Region, RegionsAndZonesBackend
from moto.utilities.utils import get_partition

_original = RegionsAndZonesBackend.describe_regions


def _describe_regions(self: RegionsAndZonesBackend, region_names: list[str] | None = None) -> list[Region]:
    partition = get_partition(self.region_name)  # type: ignore[attr-defined]
    return [region for region in _original(self, region_names) if get_partition(region.name) == partition]


def install() -> None:
    RegionsAndZonesBackend.describe_regions = _describe_regions  # type: ignore[method-assign]
