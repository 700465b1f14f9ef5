"""The report's maps as inline SVG: one ``<path data-fips="NNNNN">`` per
covered county, coloured by its number of agreements (or, switched by the
page's script, by model), over the states' outlines. Each county carries
its own tooltip (``<title>``) and links to its state's page."""

from __future__ import annotations

from markupsafe import Markup

from watch287g.core.normalize import STATES
from watch287g.site.geometry import CONUS, HEIGHT, WIDTH, Geometry, region_of

# Agreements in a county -> colour class (style.css); the legend reads them back.
COUNT_BINS = ((1, 1, "n1"), (2, 2, "n2"), (3, 4, "n3"), (5, 9, "n4"), (10, None, "n5"))
MODEL_CLASSES = {"JEM": "m-jem", "TFM": "m-tfm", "WSO": "m-wso"}
MIXED = "m-mix"


def count_class(agreements: int) -> str:
    for low, high, css in COUNT_BINS:
        if agreements >= low and (high is None or agreements <= high):
            return css
    return COUNT_BINS[0][2]


def model_class(by_model: dict[str, int]) -> str:
    models = [m for m, n in by_model.items() if n]
    return MODEL_CLASSES.get(models[0], MIXED) if len(models) == 1 else MIXED


def legend() -> dict:
    """What the template shows under the map."""
    counts = [(css, f"{low}" if low == high else (f"{low}–{high}" if high else f"{low}+"))
              for low, high, css in COUNT_BINS]
    models = [(css, code) for code, css in MODEL_CLASSES.items()] + [(MIXED, "several models")]
    return {"counts": counts, "models": models}


def _tooltip(county: dict) -> str:
    models = ", ".join(f"{m} {n}" for m, n in sorted(county["by_model"].items()))
    noun = "agreement" if county["agreements"] == 1 else "agreements"
    return f"{county['name']}, {county['state']}: {county['agreements']} {noun} ({models})"


def _county_path(county: dict, geometry: Geometry, href: str) -> Markup:
    shape = geometry.counties[county["fips"]]
    return Markup('<a href="{href}"><path class="county {n} {m}" data-fips="{fips}" d="{d}">'
                  '<title>{tip}</title></path></a>').format(
        href=href, n=count_class(county["agreements"]), m=model_class(county["by_model"]),
        fips=county["fips"], d=shape.path, tip=_tooltip(county))


def _svg(map_id: str, view_box: str, title: str, description: str, body: list[Markup]) -> Markup:
    return Markup('<svg class="map by-count" id="{id}" viewBox="{vb}" role="img" '
                  'aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{title}</title>'
                  '<desc id="{id}-desc">{desc}</desc>{body}</svg>').format(
        id=map_id, vb=view_box, title=title, desc=description, body=Markup("").join(body))


def national_map(geometry: Geometry, counties: list[dict], title: str, description: str,
                 pages: set[str], state_page: str = "states/{}.html") -> Markup:
    """All states (those in ``pages`` linking to their page), the covered
    counties, the insets' frames."""
    defs = Markup("").join(Markup('<path id="state-{}" d="{}"/>').format(code, shape.path)
                           for code, shape in sorted(geometry.states.items()))
    body = [Markup("<defs>{}</defs>").format(defs), Markup('<g class="land">')]
    for code in sorted(geometry.states):
        land = Markup('<use href="#state-{}"><title>{}</title></use>').format(code, STATES.get(code, code))
        body.append(Markup('<a href="{}">{}</a>').format(state_page.format(code), land) if code in pages else land)
    body.append(Markup('</g><g class="counties">'))
    body.extend(_county_path(c, geometry, state_page.format(c["state"])) for c in counties)
    body.append(Markup('</g><g class="borders">'))
    body.extend(Markup('<use href="#state-{}"/>').format(code) for code in sorted(geometry.states))
    body.append(Markup('</g><g class="insets">'))
    for name, (x, y, w, h) in geometry.insets:
        body.append(Markup('<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>').format(
            x, y, w, h, name))
    body.append(Markup("</g>"))
    return _svg("national-map", f"0 0 {WIDTH} {HEIGHT}", title, description, body)


def state_map(geometry: Geometry, state: str, state_fips: str, counties: list[dict], title: str,
              description: str) -> Markup:
    """One state's counties, the covered ones coloured, framed to the state."""
    own = {fips: shape for fips, shape in geometry.counties.items() if fips.startswith(state_fips)}
    if not own:
        return Markup("")
    min_x = min(s.bbox[0] for s in own.values())
    min_y = min(s.bbox[1] for s in own.values())
    max_x = max(s.bbox[2] for s in own.values())
    max_y = max(s.bbox[3] for s in own.values())
    region = region_of(state_fips)
    if region is not CONUS:     # an inset: what lies outside its box fell off the map
        x, y, w, h = region.box
        min_x, min_y, max_x, max_y = max(min_x, x), max(min_y, y), min(max_x, x + w), min(max_y, y + h)
    margin = max(max_x - min_x, max_y - min_y) * 0.03
    view_box = (f"{min_x - margin:.1f} {min_y - margin:.1f} {max_x - min_x + 2 * margin:.1f} "
                f"{max_y - min_y + 2 * margin:.1f}")
    covered = {c["fips"] for c in counties}
    body = [Markup('<g class="land">')]
    body.extend(Markup('<path class="county empty" d="{}"/>').format(shape.path)
                for fips, shape in sorted(own.items()) if fips not in covered)
    body.append(Markup('</g><g class="counties">'))
    body.extend(_county_path(c, geometry, f"#county-{c['fips']}") for c in counties)
    body.append(Markup("</g>"))
    return _svg(f"map-{state}", view_box, title, description, body)
