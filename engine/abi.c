/* The scalar-type tag this build of the library defines (see REEL_ABI_TAG
 * in tensor.h): the float build defines the float tag, the double build
 * (-DREEL_DOUBLE, libreel_f64) the double one. */
#define REEL_BUILDING_ABI_TAG
#include "tensor.h"

const int REEL_ABI_TAG = sizeof(reel_real);
