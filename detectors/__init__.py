"""What is personal data: Presidio recognizers for Chinese formats, value decoders, the scanner.

This package knows nothing of proxies or policies; it can be used on its own, either through
:class:`detectors.engine.Scanner` or by adding :func:`detectors.registry.formshield_recognizers`
to a plain Presidio ``AnalyzerEngine``.
"""
