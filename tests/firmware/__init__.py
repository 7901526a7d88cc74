"""Tests of rtrledit.firmware: host driver, C driver, simulated device."""
