"""Every listed plot and page answers with a Bokeh document, and every panel updates."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from plots.catalog import INDIVIDUAL

pytestmark = pytest.mark.django_db(transaction=True)

#: The names Dask 2026.8's ``/individual-plots.json`` lists.
DASK_INDIVIDUAL_PLOTS = {
    "Individual Aggregate Time Per Action",
    "Individual Bandwidth Types",
    "Individual Bandwidth Workers",
    "Individual Cluster Map",
    "Individual Cluster Memory",
    "Individual Compute Time Per Key",
    "Individual Contention",
    "Individual Cpu",
    "Individual Exceptions",
    "Individual Fine Performance Metrics",
    "Individual Gpu Memory",
    "Individual Gpu Utilization",
    "Individual Graph",
    "Individual Group Progress",
    "Individual Groups",
    "Individual Memory By Key",
    "Individual Nprocessing",
    "Individual Occupancy",
    "Individual Profile",
    "Individual Profile Server",
    "Individual Progress",
    "Individual Rmm Memory",
    "Individual Scheduler System",
    "Individual Task Stream",
    "Individual Workers",
    "Individual Workers Cpu Timeseries",
    "Individual Workers Disk",
    "Individual Workers Disk Timeseries",
    "Individual Workers Memory",
    "Individual Workers Memory Timeseries",
    "Individual Workers Network",
    "Individual Workers Network Timeseries",
    "Individual Workers Transfer Bytes",
}

INDEX_LIST = re.compile(r'<ul class="plot-index">(.*?)</ul>', re.DOTALL)
LINK = re.compile(r'<a href="([^"]+)">')

#: Text that only a page embedding a Bokeh server session contains.
BOKEH_EMBED = "embed_items"


def _is_bokeh_document(html: str) -> bool:
    return BOKEH_EMBED in html and '"token":"' in html


async def test_individual_plots_match_dask(viewer_async_client, backend):
    response = await viewer_async_client.get("/individual-plots.json")
    assert response.status_code == 200
    assert set(response.json()) == DASK_INDIVIDUAL_PLOTS


async def test_every_individual_plot_answers(viewer_async_client, backend):
    client = viewer_async_client
    plots = (await client.get("/individual-plots.json")).json()
    for name, path in plots.items():
        response = await client.get(path)
        assert response.status_code == 200, (name, path)
        if name == "Individual Cluster Map":
            # A static page that draws from the event stream, not Bokeh.
            continue
        html = response.content.decode()
        assert _is_bokeh_document(html), (name, path)


async def test_every_index_page_answers(viewer_async_client, backend):
    client = viewer_async_client
    index = await client.get(reverse("plots:index"))
    assert index.status_code == 200
    lists = INDEX_LIST.findall(index.content.decode())
    pages = [link for html in lists for link in LINK.findall(html)]
    assert reverse("plots:shuffle") in pages
    assert len(pages) >= len(INDIVIDUAL)
    hardware = reverse("plots:hardware")
    checked = 0
    for path in pages:
        response = await client.get(path)
        assert response.status_code == 200, path
        if path == hardware:
            # The benchmark form only runs the benchmark on POST.
            continue
        assert _is_bokeh_document(response.content.decode()), path
        checked += 1
    assert checked >= len(INDIVIDUAL)


@pytest.mark.parametrize("name", sorted(INDIVIDUAL))
async def test_panel_updates_without_error(name, backend, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    _, factory = INDIVIDUAL[name]
    panel = factory()
    await panel.refresh(snapshot, None)
    # A second update exercises the paths that compare with earlier data.
    await panel.refresh(backend.snapshot(), None)
    assert not panel._failing, panel.notice.text
    assert not panel.notice.text.startswith("This plot failed"), panel.notice.text
