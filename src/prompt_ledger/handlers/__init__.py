"""Thin handlers: take validated input from the Call, call one service, shape the Reply."""
