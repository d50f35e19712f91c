"""The web console's pages (web/), compiled into the services that own them: served without a
key, index.html with the page's <base href>, hashed assets cached as immutable, ETag → 304,
and the APIs beside them untouched. The pages themselves are tested in Chromium
(web/tests/browser)."""
import re

import pytest

from support import assert_problem

PAGES = ["/management", "/analysis", "/dashboard"]


@pytest.mark.parametrize("page", PAGES)
def test_page_is_served_without_a_key(deployment, page):
    anon = deployment.anonymous
    r = anon.get(page)
    assert r.status == 308 and r.header("Location") == page + "/", r.describe()
    r = anon.get(page + "/")
    assert r.status == 200, r.describe()
    assert r.content_type.startswith("text/html"), r.describe()
    html = r.body.decode()
    assert f'<base href="{page}/">' in html
    assert r.header("Cache-Control") == "no-cache"
    # The app routes deeper paths itself: they are index.html too.
    assert anon.get(page + "/anything/deeper").body == r.body


@pytest.mark.parametrize("page", PAGES)
def test_assets_are_immutable_and_revalidate(deployment, page):
    anon = deployment.anonymous
    html = anon.get(page + "/").body.decode()
    scripts = re.findall(r'src="\./(assets/[^"]+\.js)"', html)
    if not scripts:
        pytest.skip("console built without node/npm: a placeholder page has no assets")
    r = anon.get(f"{page}/{scripts[0]}")
    assert r.status == 200, r.describe()
    assert r.content_type.startswith("text/javascript")
    assert r.header("Cache-Control") == "public, max-age=31536000, immutable"
    etag = r.header("ETag")
    again = anon.get(f"{page}/{scripts[0]}", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b"", again.describe()
    assert_problem(anon.get(f"{page}/assets/missing-0000.js"), 404, "not-found")


def test_apis_beside_the_pages_are_unchanged(deployment):
    assert_problem(deployment.anonymous.get("/management/api/v1/counts"), 401, "unauthorized")
    assert_problem(deployment.admin.get("/management/api/v1/nope"), 404, "not-found")
    assert_problem(deployment.admin.get("/analysis/api/v1/nope"), 404, "not-found")
    assert_problem(deployment.admin.get("/dashboard/api/v1/nope"), 404, "not-found")
    assert_problem(deployment.admin.post("/management/", {}), 405, "method-not-allowed")


@pytest.mark.standalone_only
def test_standalone_root_leads_to_the_console(deployment):
    r = deployment.anonymous.get("/")
    assert r.status == 308 and r.header("Location") == "/management/", r.describe()
