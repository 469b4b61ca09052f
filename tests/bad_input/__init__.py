"""Bad-input tests: every case asserts the error type and that the message names the argument or task and the value.

(A package, so that its modules may share names with other test folders' modules.)
"""
