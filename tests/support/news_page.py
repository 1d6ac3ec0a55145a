"""tests/data/news-page.html: a news page with its furniture, and what an extractor must keep."""

from tests.support import ROOT

NEWS_PAGE = ROOT / "tests" / "data" / "news-page.html"
# Every paragraph of the article on tests/data/news-page.html, and the page's furniture.
ARTICLE_PARAGRAPHS = [
    "The ferry linking Port Ellis and Garrow Island will carry passengers again from 3 March",
    "Engineers have replaced the ramp's two steel hinges and rebuilt 40 metres of the quay wall",
    "Harbourmaster Gwen Alder said the first sailing would leave Port Ellis at 7.15am",
    "During the closure, islanders relied on a chartered landing craft",
    '"People here have been patient, but it has been a hard winter," said Callum Reid',
    "The board said it would install a tide gauge and storm shutters on the new ramp",
]
FURNITURE = [
    "cookies",
    "Accept all",
    "Subscribe",
    "Share on",
    "Copy link",
    "Email this story",
    "Photograph",
    "Tomas Berg",
    "Morning Briefing",
    "newsletter",
    "Sign me up",
    "Related stories",
    "Storm damage bill",
    "Landing craft chartered",
    "Comments",
    "seadog77",
    "late Friday sailing",
    "Two point three million",
    "moderated",
    "Topics",
    "Breadcrumbs",
    "Home",
    "Privacy policy",
    "All rights reserved",
    "dataLayer",
    "Transport correspondent",
]
