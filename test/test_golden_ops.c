#include "harness.h"
void suite_golden_ops(void) {}
