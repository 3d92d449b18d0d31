"""report.html in a real headless browser (issue 24 item 5): at 1280 and 1920 px wide the page
never scrolls sideways, even with unbroken long lines, and screenshots are taken."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.outcomes import ItemResult
from autorust.reporting.item_files import write_item
from autorust.reporting.report import write_reports
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="needs Debian's chromium (setup.sh)")
WIDTHS = (1280, 1920)
PROBE = """<script>window.addEventListener('load',()=>{const d=document.documentElement;
document.body.setAttribute('data-probe',d.scrollWidth+'x'+window.innerWidth);
document.querySelector('label[for=f-1]').click();
const shown=[...document.querySelectorAll('.card')].filter(c=>c.offsetParent!==null);
document.body.setAttribute('data-filtered',shown.map(c=>c.dataset.status).join(','));
});</script>"""


def browser(*args: str) -> subprocess.CompletedProcess[str]:
    command = [BROWSER or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
               "--hide-scrollbars", "--virtual-time-budget=3000", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture
async def report(scripted_config: AutorustConfig, example_images: Path, tmp_path: Path) -> Path:
    images = sorted(example_images.iterdir())
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        results = await BatchRun(images, scripted_config, saver).run()
    for result in results:
        write_item(scripted_config.output_dir, result)
    unbroken = "E" * 600  # no space to wrap at: the page must still fit
    results.append(ItemResult(image_path=str(images[0]), thread_id="t" * 40, status="error",
                              error=f"Traceback {unbroken}\n{'y' * 400}"))  # fmt: skip
    write_reports(tmp_path / "report", results)
    return tmp_path / "report" / "report.html"


def test_the_report_fits_the_window_in_chromium(report: Path, tmp_path: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert page.count('class="card"') == 7 and "Rendered beside its target" in page
    assert "http://" not in page and "https://" not in page, "self-contained"
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    for width in WIDTHS:
        dom = browser(f"--window-size={width},900", "--dump-dom", probed.as_uri())
        assert 'data-probe="' in dom.stdout, dom.stderr[-2000:]
        scroll, inner = dom.stdout.split('data-probe="', 1)[1].split('"', 1)[0].split("x")
        assert int(inner) == width and int(scroll) <= int(inner), (width, scroll, inner)
        filtered = dom.stdout.split('data-filtered="', 1)[1].split('"', 1)[0]
        assert filtered == ",".join(["passed"] * 5), "the 'passed' button shows passed cards only"
        shot = tmp_path / f"report-{width}.png"
        browser(f"--window-size={width},900", f"--screenshot={shot}", report.as_uri())
        from PIL import Image

        with Image.open(shot) as image:
            assert image.size == (width, 900)


def test_figures_are_copied_into_the_item_folder(report: Path, scripted_config: AutorustConfig):
    (chart,) = Path(scripted_config.output_dir).glob("sales_chart-*")
    assert (chart / "output.png").is_file()
    assert all((a / "output.png").is_file() for a in (chart / "attempts").iterdir())
