const char *tm_version(void) { return "0.1.0"; }
