"""The playground page in headless Chromium: each form submitted against a real server.

Needs ``selenium`` and a Chromium with its driver (Debian: ``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them); skipped with the reason otherwise.
"""

import shutil

import pytest
from test_rest import Server

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install selenium)"
)
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

BROWSER = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (BROWSER and DRIVER),
    reason="no headless browser: install Debian's chromium and "
    "chromium-driver (apt-get install -y chromium chromium-driver), as .ci/run does",
)


@pytest.fixture(scope="module")
def server(tiny_exports):
    process = Server(tiny_exports, "--poll-seconds", "0")
    yield process
    process.close()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,1600",
    ):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    except WebDriverException as error:
        pytest.skip(f"the browser does not start: {error.msg}")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def submit(browser, form: str) -> str:
    """Submits ``form`` and waits for its result; returns the result's state."""
    result = browser.find_element(By.ID, f"{form}-result")
    browser.execute_script("arguments[0].dataset.state = 'idle'", result)
    browser.find_element(By.CSS_SELECTOR, f"#{form}-form button[type=submit]").click()
    WebDriverWait(browser, 60).until(
        lambda _: result.get_attribute("data-state") in ("done", "error")
    )
    return result.get_attribute("data-state")


def fill(browser, element_id: str, value) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(str(value))


def test_playground_forms_show_results(server, browser):
    browser.get(server.url + "/")
    assert "nlp-lstm playground" in browser.title
    WebDriverWait(browser, 20).until(
        lambda b: b.find_element(By.ID, "translation-status").text.startswith("version")
    )

    fill(browser, "sentiment-text", "A dull, lifeless and tedious film.")
    assert submit(browser, "sentiment") == "done"
    label = browser.find_element(By.ID, "sentiment-label").text
    assert label.split(": ")[1] in ("negative", "positive")
    bars = browser.find_elements(By.CSS_SELECTOR, "#sentiment-result .bar")
    assert [b.find_element(By.CLASS_NAME, "name").text for b in bars] == ["negative", "positive"]
    assert abs(sum(float(b.find_element(By.CLASS_NAME, "value").text) for b in bars) - 1) < 0.01

    fill(browser, "generation-prompt", "KING:")
    fill(browser, "generation-length", 25)
    fill(browser, "generation-seed", 3)
    assert submit(browser, "generation") == "done"
    text = browser.find_element(By.ID, "generation-text").text
    assert text.startswith("KING:") and len(text) > len("KING:")

    fill(browser, "translation-source", "Where is the station?")
    fill(browser, "translation-beam", 2)
    assert submit(browser, "translation") == "done"
    assert browser.find_element(By.ID, "translation-text").text.strip()
    canvas = browser.find_element(By.ID, "attention")
    assert int(canvas.get_attribute("data-rows")) > 0
    assert int(canvas.get_attribute("data-columns")) > 0
    assert int(canvas.get_attribute("width")) > 0 and int(canvas.get_attribute("height")) > 0

    # A bad request shows the server's error message, and the page keeps working.
    fill(browser, "generation-length", 5000)  # over the server's --max-new-chars
    assert submit(browser, "generation") == "error"
    assert "max_new_chars" in browser.find_element(By.ID, "generation-result").text
    fill(browser, "generation-length", 10)
    assert submit(browser, "generation") == "done"
    errors = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "400" not in e["message"]
    ]
    assert not errors, errors
