"""Web pages by their main content (trafilatura): page chrome (cookie banner, share bar, related
articles, comment thread) stays out, the page's own title, author, date, URL and site name come in, and
offsets stay exact after chunking."""

from __future__ import annotations

import json
from pathlib import Path

from corpus.ingest import document_from_file, document_from_upload
from indexer.chunking import ChunkerSettings, chunk_corpus

BLOG = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Why newborns get milia | The Skin Journal</title>
  <meta property="og:title" content="Why newborns get milia">
  <meta property="og:site_name" content="The Skin Journal">
  <meta property="og:url" content="https://skin.example/articles/newborn-milia">
  <meta name="author" content="Ada Lee">
  <meta property="article:published_time" content="2024-03-05T09:00:00Z">
  <link rel="canonical" href="https://skin.example/articles/newborn-milia">
</head>
<body>
  <div id="cookie-banner" class="cookie-consent">
    <p>COOKIE-BANNER We use cookies to improve your experience. By continuing you accept.</p>
    <button>Accept all cookies</button>
  </div>
  <header class="site-header"><a href="/">The Skin Journal</a>
    <nav><a href="/news">News</a> <a href="/guides">Guides</a></nav></header>
  <article>
    <h1>Why newborns get milia</h1>
    <div class="share-bar social-share">
      <a href="https://twitter.com/share">SHARE-BAR Share on Twitter</a>
      <a href="https://facebook.com/share">Share on Facebook</a>
    </div>
    <p>Milia are tiny white bumps that appear on the nose, chin and cheeks of many newborn babies.
      They are small cysts filled with keratin, a protein found in skin, hair and nails.</p>
    <h2>How common are they?</h2>
    <p>About half of all newborns have milia in the first weeks of life. They are harmless and are not
      a sign of infection, allergy or poor hygiene, and they do not itch or hurt.</p>
    <h2>What to do</h2>
    <p>Nothing at all, in most cases. The bumps clear on their own within a few weeks as the skin
      renews itself. Do not squeeze, scrub or put creams on them; that can irritate the skin.</p>
    <ul>
      <li>Wash the face gently with warm water once a day.</li>
      <li>Pat the skin dry with a soft towel.</li>
    </ul>
    <p>See a doctor if the bumps are still there after three months, or if they look red or swollen.</p>
  </article>
  <section class="related-articles">
    <h3>Related articles</h3>
    <ul>
      <li><a href="/a">RELATED-ONE Baby acne explained</a></li>
      <li><a href="/b">RELATED-TWO Cradle cap: what parents should know</a></li>
    </ul>
  </section>
  <section id="comments" class="comments">
    <h3>3 comments</h3>
    <div class="comment"><p>COMMENT-ONE My daughter had these too, they went away after a month.</p></div>
    <div class="comment"><p>COMMENT-TWO Thanks, this was reassuring to read at 3am.</p></div>
  </section>
  <footer>FOOTER-TEXT Copyright 2024 The Skin Journal</footer>
</body>
</html>
"""
CHROME = [
    "COOKIE-BANNER",
    "cookies",
    "SHARE-BAR",
    "Share on",
    "RELATED-ONE",
    "RELATED-TWO",
    "Related articles",
    "COMMENT-ONE",
    "COMMENT-TWO",
    "comments",
    "FOOTER-TEXT",
    "News",
    "Guides",
]
BLOG_TEXT = (
    "Why newborns get milia\n\n"
    "Milia are tiny white bumps that appear on the nose, chin and cheeks of many newborn babies. They are "
    "small cysts filled with keratin, a protein found in skin, hair and nails.\n\n"
    "How common are they?\n\n"
    "About half of all newborns have milia in the first weeks of life. They are harmless and are not a sign "
    "of infection, allergy or poor hygiene, and they do not itch or hurt.\n\n"
    "What to do\n\n"
    "Nothing at all, in most cases. The bumps clear on their own within a few weeks as the skin renews "
    "itself. Do not squeeze, scrub or put creams on them; that can irritate the skin.\n\n"
    "Wash the face gently with warm water once a day.\n"
    "Pat the skin dry with a soft towel.\n\n"
    "See a doctor if the bumps are still there after three months, or if they look red or swollen."
)


def test_the_article_without_banner_share_bar_related_list_or_comments() -> None:
    document = document_from_upload(BLOG.encode(), filename="newborn-milia.html")
    assert [marker for marker in CHROME if marker in document.text] == []
    assert document.text == BLOG_TEXT


def test_the_page_metadata_is_kept() -> None:
    document = document_from_upload(BLOG.encode(), filename="newborn-milia.html")
    assert document.title == "Why newborns get milia"
    assert document.author == "Ada Lee"
    assert document.url == "https://skin.example/articles/newborn-milia"
    assert document.publisher == "The Skin Journal"
    assert document.metadata == {
        "date": "2024-03-05",
        "source_format": "html",
        "source_file": "newborn-milia.html",
    }


def test_a_sidecar_wins_over_the_page_metadata(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(BLOG, encoding="utf-8")
    sidecar = {"title": "Given title", "publisher": "Given publisher", "metadata": {"date": "2020-01-01"}}
    (tmp_path / "page.json").write_text(json.dumps(sidecar), encoding="utf-8")
    document = document_from_file(tmp_path / "page.html")
    assert (document.title, document.publisher, document.author) == (
        "Given title",
        "Given publisher",
        "Ada Lee",
    )
    assert document.metadata == {"date": "2020-01-01"}


def test_every_passage_is_an_exact_slice() -> None:
    document = document_from_upload(BLOG.encode(), filename="blog.html")
    passages = list(chunk_corpus([document], ChunkerSettings(max_words=20, overlap_words=5)))
    assert len(passages) > 5
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text


def test_hidden_elements_and_what_lies_outside_main_are_not_content() -> None:
    page = (
        "<html><head><title>Care</title></head><body><div class='promo'>PROMO-OUTSIDE</div>"
        "<main><h1>Care</h1><p>Milia need no treatment at all in most babies.</p>"
        "<p hidden>HIDDEN-P</p><div aria-hidden='true'>ARIA-HIDDEN</div>"
        "<p style='display: none'>DISPLAY-NONE</p></main></body></html>"
    )
    document = document_from_upload(page.encode(), media_type="text/html")
    assert document.text == "Care\n\nMilia need no treatment at all in most babies."
    assert "date" not in document.metadata  # only a date the page states, none guessed


def test_a_short_article_keeps_its_structure_and_leaves_the_chrome_out() -> None:
    start, end = BLOG.index("<h2>How common"), BLOG.index("</article>")
    document = document_from_upload((BLOG[:start] + BLOG[end:]).encode(), filename="short.html")
    assert [marker for marker in CHROME if marker in document.text] == []
    assert document.text == BLOG_TEXT.split("\n\nHow common")[0]
