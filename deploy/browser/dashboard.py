"""Browser tests of the dashboard: real Chromium (Debian's package) driven by Playwright.

Run by deploy/browser-test.sh, which starts `quire run` (embedded) with an SMTP port that
nothing answers yet, so email jobs die, and passes what it started in the environment:
QUIRE_BASE, QUIRE_ADMIN_KEY, QUIRE_OTHER_KEY (a non-admin key), SMTP_PORT, CHROMIUM and
ARTIFACTS (where each page's screenshot goes). Every wait is on a condition, bounded.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["QUIRE_BASE"]
ADMIN = os.environ["QUIRE_ADMIN_KEY"]
OTHER = os.environ["QUIRE_OTHER_KEY"]
SMTP_PORT = int(os.environ["SMTP_PORT"])
CHROMIUM = os.environ["CHROMIUM"]
ARTIFACTS = os.environ["ARTIFACTS"]


def api(method, path, body=None, key=ADMIN):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_for(what, condition, secs=60):
    deadline = time.monotonic() + secs
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {secs}s")
        time.sleep(0.1)


def status(job_id, key=ADMIN):
    return api("GET", f"/v1/jobs/{job_id}", key=key)["status"]


def shot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


def sign_in(page, key):
    page.goto(BASE + "/dashboard")
    expect(page).to_have_url(BASE + "/dashboard/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(BASE + "/dashboard")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def email(subject):
    return {
        "to": ["ops@example.com"],
        "template": "generic",
        "vars": {"subject": subject, "text": "A message for the dashboard test."},
    }


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    # Emails while nothing answers on the SMTP port: they die (one attempt each).
    lonely = api("POST", "/v1/emails", email("dies first"))["id"]
    bulk = [api("POST", "/v1/emails", email(f"bulk {i}"))["id"] for i in range(100)]
    wait_for("101 emails dead", lambda: all(status(i) == "dead" for i in [lonely] + bulk), 120)
    print("browser-test: 101 email jobs are dead", flush=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()

        # Sign in; the overview.
        sign_in(page, ADMIN)
        expect(page.locator('tr[data-kind="email"] td[data-status="queued"]')).to_have_text("0")
        shot(page, "overview")

        # A certificate goes from queued to succeeded on its page without a reload.
        job = api("POST", "/v1/certificates", {
            "recipient_name": "Browser Lovelace", "course_name": "Chromium", "delay_secs": 3,
        })["id"]
        page.goto(f"{BASE}/dashboard/jobs/{job}")
        expect(page.locator("#job-status")).to_have_text("scheduled")
        page.evaluate("window.__not_reloaded = true")
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
        assert page.evaluate("window.__not_reloaded === true"), "the page reloaded"
        expect(page.locator("iframe.pdf")).to_be_visible()
        shot(page, "job-succeeded")

        # Live counts on the overview: a running job shows, then is gone, without a reload.
        page.goto(BASE + "/dashboard")
        page.evaluate("window.__not_reloaded = true")
        slow = api("POST", "/v1/certificates", {
            "recipient_name": "Counted Hopper", "course_name": "Live", "delay_secs": 2,
        })["id"]
        expect(page.locator('tr[data-kind="certificate"] td[data-status="scheduled"]')).to_have_text(
            "1", timeout=10_000)
        wait_for("the counted job", lambda: status(slow) == "succeeded")
        expect(page.locator('tr[data-kind="certificate"] td[data-status="scheduled"]')).to_have_text(
            "0", timeout=10_000)
        assert page.evaluate("window.__not_reloaded === true"), "the overview reloaded"

        # Filter and search.
        page.goto(BASE + "/dashboard/jobs")
        page.get_by_label("Search").fill("browser lovelace")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.jobs tbody tr")).to_have_count(1)
        expect(page.locator(f'tr[data-job="{job}"]')).to_be_visible()
        page.get_by_label("Search").fill("")
        page.get_by_label("Kind").select_option("email")
        page.get_by_label("Status").select_option("dead")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#job-count")).to_have_text("101")
        expect(page.locator("table.jobs tbody tr")).to_have_count(50)
        shot(page, "jobs-filtered")
        page.get_by_role("link", name="Older jobs →").click()
        expect(page.locator("table.jobs tbody tr")).to_have_count(50)

        # The SMTP server comes up.
        smtp = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import socket
            wait_for("the SMTP server", lambda: socket.socket().connect_ex(("127.0.0.1", SMTP_PORT)) == 0, 20)

            # A dead job: its error, a retry, success seen on the page.
            page.goto(f"{BASE}/dashboard/jobs/{lonely}")
            expect(page.locator("#job-status")).to_have_text("dead")
            error = page.locator("#job-error").inner_text()
            assert error, "the dead job shows its error"
            shot(page, "job-dead")
            page.get_by_role("button", name="Retry").click()
            expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
            print(f"browser-test: retried a dead job that said: {error}", flush=True)

            # Bulk retry of the 100 others, from their failure group.
            page.goto(BASE + "/dashboard/failures")
            shot(page, "failures")
            group = page.locator("tr", has_text="email").filter(
                has=page.get_by_role("button", name="Retry all…")).first
            group.get_by_role("button", name="Retry all…").click()
            expect(page.locator("#confirm-count")).to_have_text("100")
            shot(page, "confirm")
            page.get_by_role("button", name="Yes, retry 100 jobs").click()
            wait_for("100 retried emails to succeed",
                     lambda: all(status(i) == "succeeded" for i in bulk), 120)
        finally:
            smtp.terminate()
            smtp.wait()

        # A POST without the CSRF token is refused; with another page's token too.
        refused = page.request.post(f"{BASE}/dashboard/jobs/{job}/retry", form={})
        assert refused.status == 403, refused.status
        refused = page.request.post(f"{BASE}/dashboard/jobs/{job}/retry", form={"csrf": "0" * 64})
        assert refused.status == 403, refused.status

        # Other pages, for the record.
        for name in ["batches", "schedules", "templates", "keys"]:
            page.goto(f"{BASE}/dashboard/{name}")
            expect(page.locator("h1")).to_be_visible()
            shot(page, name)
        page.goto(f"{BASE}/dashboard/templates/classic")
        expect(page.locator("img.preview")).to_be_visible()
        wait_for("the preview image", lambda: page.evaluate(
            "document.querySelector('img.preview').naturalWidth > 0"), 30)
        shot(page, "template")

        # A phone's width, dark: still usable.
        phone = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark",
                                    storage_state=context.storage_state())
        small = phone.new_page()
        small.goto(BASE + "/dashboard")
        expect(small.get_by_role("link", name="Jobs")).to_be_visible()
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the overview is {width}px wide on a 390px screen"
        shot(small, "overview-phone-dark")
        phone.close()

        # A non-admin key cannot open another key's job by its URL.
        other = browser.new_context()
        other_page = other.new_page()
        sign_in(other_page, OTHER)
        response = other_page.goto(f"{BASE}/dashboard/jobs/{job}")
        assert response.status == 404, response.status
        expect(other_page.get_by_role("alert")).to_contain_text("Not found")
        assert other_page.get_by_role("link", name="Keys").count() == 0
        other.close()

        # Sign out: the old cookie no longer works.
        cookies = context.cookies()
        page.goto(BASE + "/dashboard")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(BASE + "/dashboard/sign-in")
        stale = browser.new_context()
        stale.add_cookies(cookies)
        stale_page = stale.new_page()
        stale_page.goto(BASE + "/dashboard")
        expect(stale_page).to_have_url(BASE + "/dashboard/sign-in")
        stale.close()

        # Without JavaScript the pages still read (and the forms still post).
        plain = browser.new_context(java_script_enabled=False)
        plain_page = plain.new_page()
        sign_in(plain_page, ADMIN)
        expect(plain_page.locator('tr[data-kind="certificate"]')).to_be_visible()
        plain_page.goto(f"{BASE}/dashboard/jobs/{job}")
        expect(plain_page.locator("#job-status")).to_have_text("succeeded")
        plain_page.goto(f"{BASE}/dashboard/jobs?kind=email&status=succeeded")
        expect(plain_page.locator("#job-count")).to_have_text("101")
        shot(plain_page, "no-javascript-job-list")
        plain.close()
        browser.close()
    print("browser-test: all checks passed", flush=True)


if __name__ == "__main__":
    main()
