"""openusage: usage, spend and limits of AI coding tools and AI APIs in one place."""

__version__ = "0.1.0"
