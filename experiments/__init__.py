"""Launcher, configs and benchmarks of rabbitjax's exercises."""
