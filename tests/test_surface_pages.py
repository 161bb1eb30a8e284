"""The surfaces experiment's 3-D pages: plotly's JavaScript written once beside them (not inlined in
each), loaded by a relative path, so the pages stay small and still open offline."""

import re

from experiments.kinds.surfaces import surfaces_3d
from experiments.kinds.surfaces.stepping import Steppers


def test_pages_share_one_plotly_file_beside_them(tmp_path):
    names = surfaces_3d.write(str(tmp_path), Steppers(0.9))
    assert names == [surfaces_3d.PNG_FILE]
    library = (tmp_path / surfaces_3d.PLOTLY_JS).read_text()
    assert len(library) > 1_000_000 and "plotly" in library[:2000].lower()
    for page in ("surface_normalized.html", "surface_unnormalized.html"):
        text = (tmp_path / page).read_text()
        assert len(text) < 500_000  # the data and the page, not the library
        sources = re.findall(r'<script[^>]+src="([^"]+)"', text)
        assert sources == [surfaces_3d.PLOTLY_JS]  # relative: no network, no server
        assert "Plotly.newPlot" in text
