"""County and state shapes for the report's maps, as SVG path data.

The Census Bureau's 1:500,000 boundary files inside the ``plotly-geo``
package (read with ``pyshp``) are projected once — Albers equal-area for the
48 states, with Alaska, Hawaii and the territories in insets, like the
maps newspapers print — and simplified (Douglas-Peucker, about half a
kilometre) to about a seventh of their points. The result is cached on
disk (``$XDG_CACHE_HOME/watch287g/geometry.json``), keyed by the package's
version and GEOMETRY_VERSION, so only the first report on a machine pays
for it (a few seconds). Nothing is fetched from the network.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from watch287g.counties import COUNTY_SHAPES, STATE_SHAPES, shapefile_path
from watch287g.site import cache

GEOMETRY_VERSION = 1          # bump when the projection or simplification changes
WIDTH, HEIGHT = 960, 600      # the national map's coordinate space
TOLERANCE = 0.08              # simplification, in map units (1 unit is about 5 km)
STATE_TOLERANCE = 0.25        # state outlines on the national map need less detail
_DIGITS = 1                   # coordinates are written to 0.1 unit (about 500 m)
THIN_DEGREES = 0.0035         # about 400 m, the simplification's own scale: a cheap first pass


@dataclass(frozen=True)
class Region:
    """A part of the map with its own projection and place (an inset)."""

    name: str
    box: tuple[float, float, float, float]          # x, y, width, height on the national map
    albers: tuple[float, float, float, float] | None  # (parallel 1, parallel 2, origin lat, origin lon)
    # The box is fitted to what lies inside these bounds (west, south, east,
    # north): fitted to Hawaii's remote atolls too, its main islands would be
    # specks. What lies outside falls off the map.
    bounds: tuple[float, float, float, float] | None = None


CONUS = Region("conus", (10, 10, 940, 500), (29.5, 45.5, 23.0, -96.0))
REGIONS = {
    "02": Region("Alaska", (10, 440, 190, 150), (55.0, 65.0, 50.0, -154.0)),
    "15": Region("Hawaii", (215, 505, 120, 85), (8.0, 18.0, 3.0, -157.0), (-161.0, 18.5, -154.5, 22.5)),
    "72": Region("Puerto Rico", (700, 540, 90, 40), None),
    "78": Region("U.S. Virgin Islands", (800, 540, 35, 40), None),
    "66": Region("Guam", (845, 540, 25, 40), None),
    "69": Region("Northern Mariana Islands", (880, 520, 25, 60), None),
    "60": Region("American Samoa", (915, 545, 35, 35), None, (-171.2, -14.6, -169.3, -14.0)),
}


def region_of(state_fips: str) -> Region:
    return REGIONS.get(state_fips, CONUS)


@dataclass(frozen=True)
class Shape:
    key: str                                  # county FIPS or USPS state code
    path: str                                 # SVG path data
    bbox: tuple[float, float, float, float]   # min x, min y, max x, max y


@dataclass
class Geometry:
    counties: dict[str, Shape]
    states: dict[str, Shape]
    insets: list[tuple[str, tuple[float, float, float, float]]]   # region name, box


def _albers(parallels: tuple[float, float, float, float]):
    phi1, phi2, phi0, lam0 = (math.radians(v) for v in parallels)
    n = (math.sin(phi1) + math.sin(phi2)) / 2
    c = math.cos(phi1) ** 2 + 2 * n * math.sin(phi1)
    rho0 = math.sqrt(c - 2 * n * math.sin(phi0)) / n

    sin, cos, sqrt, rad = math.sin, math.cos, math.sqrt, math.pi / 180

    def project(lon: float, lat: float) -> tuple[float, float]:
        if lon > 0:      # the Aleutians past the antimeridian
            lon -= 360
        rho = sqrt(max(c - 2 * n * sin(lat * rad), 0.0)) / n
        theta = n * (lon * rad - lam0)
        return rho * sin(theta), rho * cos(theta) - rho0   # y grows downwards, as in SVG
    return project


def _local(lon0: float, lat0: float):
    """Equirectangular around a small island group."""
    scale = math.cos(math.radians(lat0))

    def project(lon: float, lat: float) -> tuple[float, float]:
        if lon0 < 0 < lon:
            lon -= 360
        return (lon - lon0) * scale, -(lat - lat0)
    return project


def _thin(points: list[tuple[float, float]], degrees: float) -> list[tuple[float, float]]:
    """Drop points within ``degrees`` of the last one kept (the radial pass
    that usually precedes Douglas-Peucker): fewer points to project and
    simplify, at no visible cost."""
    if len(points) < 8:
        return points
    kept = [points[0]]
    last_x, last_y = points[0]
    for x, y in points[1:-1]:
        if abs(x - last_x) > degrees or abs(y - last_y) > degrees:
            kept.append((x, y))
            last_x, last_y = x, y
    kept.append(points[-1])
    return kept


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker, iterative (rings have tens of thousands of points)."""
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    limit = tolerance * tolerance
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = dx * dx + dy * dy
        worst, worst_at = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if length == 0:
                distance = (px - x1) ** 2 + (py - y1) ** 2
            else:
                cross = dx * (py - y1) - dy * (px - x1)
                distance = cross * cross / length
            if distance > worst:
                worst, worst_at = distance, i
        if worst > limit:
            keep[worst_at] = True
            stack.append((first, worst_at))
            stack.append((worst_at, last))
    return [p for p, kept in zip(points, keep) if kept]


def _read(shapefile_name: str, key_fields: tuple[str, ...]):
    import shapefile

    with shapefile.Reader(str(shapefile_path(shapefile_name))) as reader:
        for shape_record in reader.iterShapeRecords(fields=list(key_fields)):
            yield shape_record.record, shape_record.shape


def _project_regions(shapes) -> dict[str, tuple]:
    """A projection per region that fits its shapes into its box."""
    raw: dict[str, list] = {}
    for state_fips, shape in shapes:
        raw.setdefault(state_fips, []).append(shape)
    fits = {}
    by_region: dict[Region, list] = {}
    for state_fips, items in raw.items():
        by_region.setdefault(region_of(state_fips), []).extend(items)
    for region, items in by_region.items():
        west, south, east, north = region.bounds or (-180, -90, 180, 90)
        inside = [(lon, lat) for shape in items for lon, lat in shape.points[::5]
                  if west <= lon <= east and south <= lat <= north]
        if region.albers:
            project = _albers(region.albers)
        else:
            lons, lats = [p[0] for p in inside], [p[1] for p in inside]
            project = _local((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
        xs, ys = zip(*(project(lon, lat) for lon, lat in inside))
        bx, by, bw, bh = region.box
        scale = min(bw / ((max(xs) - min(xs)) or 1), bh / ((max(ys) - min(ys)) or 1))
        offset_x = bx + (bw - (max(xs) - min(xs)) * scale) / 2 - min(xs) * scale
        offset_y = by + (bh - (max(ys) - min(ys)) * scale) / 2 - min(ys) * scale
        fits[region.name] = (project, scale, offset_x, offset_y)
    return fits


def _shape(key: str, shape, fit, tolerance: float) -> Shape | None:
    project, scale, offset_x, offset_y = fit
    rings = []
    parts = list(shape.parts) + [len(shape.points)]
    for start, end in zip(parts, parts[1:]):
        ring = []
        for lon, lat in _thin(shape.points[start:end], THIN_DEGREES):
            x, y = project(lon, lat)
            ring.append((x * scale + offset_x, y * scale + offset_y))
        simplified = _simplify(ring, tolerance)
        if len(simplified) >= 4:
            rings.append(simplified)
    if not rings:     # an island smaller than the tolerance: keep a speck of it
        ring = [(x * scale + offset_x, y * scale + offset_y)
                for x, y in (project(lon, lat) for lon, lat in shape.points[:4])]
        rings.append(ring)
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    path = "".join("M" + " ".join(f"{x:.{_DIGITS}f} {y:.{_DIGITS}f}" for x, y in ring) + "Z" for ring in rings)
    return Shape(key, path, (round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)))


def build_geometry() -> Geometry:
    """Read, project and simplify every county and state (a few seconds)."""
    counties_raw = list(_read(COUNTY_SHAPES, ("STATEFP", "GEOID")))
    fits = _project_regions([(record["STATEFP"], shape) for record, shape in counties_raw])
    counties = {}
    for record, shape in counties_raw:
        fit = fits[region_of(record["STATEFP"]).name]
        counties[record["GEOID"]] = _shape(record["GEOID"], shape, fit, TOLERANCE)
    states = {}
    for record, shape in _read(STATE_SHAPES, ("STATEFP", "STUSPS")):
        fit = fits.get(region_of(record["STATEFP"]).name)
        if fit:
            states[record["STUSPS"]] = _shape(record["STUSPS"], shape, fit, STATE_TOLERANCE)
    insets = [(r.name, r.box) for r in REGIONS.values()]
    return Geometry(counties, states, insets)


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "watch287g" / "geometry.json"


def _cache_key() -> str:
    return f"geometry-{GEOMETRY_VERSION}/plotly-geo-{importlib.metadata.version('plotly-geo')}"


def _to_json(geometry: Geometry) -> dict:
    def shapes(table):
        return {k: [s.path, list(s.bbox)] for k, s in table.items()}
    return {"counties": shapes(geometry.counties), "states": shapes(geometry.states),
            "insets": [[name, list(box)] for name, box in geometry.insets]}


def _from_json(data: dict) -> Geometry:
    def shapes(table):
        return {k: Shape(k, path, tuple(bbox)) for k, (path, bbox) in table.items()}
    return Geometry(shapes(data["counties"]), shapes(data["states"]),
                    [(name, tuple(box)) for name, box in data["insets"]])


@lru_cache(maxsize=1)
def geometry() -> Geometry:
    """The projected shapes: from the disk cache, else built and cached."""
    cached = cache.load(cache_file(), _cache_key())
    if cached is not None:
        return _from_json(cached)
    built = build_geometry()
    cache.store(cache_file(), _cache_key(), _to_json(built))
    return built
