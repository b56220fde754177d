"""LLM providers behind one small adapter interface (see base.py)."""
