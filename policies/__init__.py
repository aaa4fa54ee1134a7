"""What to do about personal data: policy files (YAML) and their evaluation."""
