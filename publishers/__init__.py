"""Publishers: static site, feeds, bulk data, as atomic releases."""
