"""The chart fixtures, for the test of the chart's JMeter Job."""

from tests.chart.conftest import helm_bin, render

__all__ = ["helm_bin", "render"]
