"""The model zoo: named multi-task models (`create_model`, `list_models`)."""
