"""The test harness: real control planes, the controller as a process, the real clusterctl."""
