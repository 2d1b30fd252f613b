"""Package marker: tests import our integration, not the test library's."""
