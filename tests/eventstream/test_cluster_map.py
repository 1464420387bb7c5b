"""The cluster-map page that reads /eventstream."""

from __future__ import annotations

import re


def test_page_served_with_relative_assets(client):
    response = client.get("/statics/individual-cluster-map.html")
    assert response.status_code == 200
    html = b"".join(response.streaming_content).decode()
    assert 'src="js/individual-cluster-map.js"' in html
    assert 'href="css/individual-cluster-map.css"' in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)


def test_script_builds_stream_url_from_location(client):
    response = client.get("/statics/js/individual-cluster-map.js")
    assert response.status_code == 200
    script = b"".join(response.streaming_content).decode()
    assert "window.location.href" in script
    assert '"eventstream"' in script
    assert "innerHTML" not in script
    assert "http://" not in script.replace('"http://www.w3.org/2000/svg"', "")
