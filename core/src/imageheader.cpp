#include "imageheader_p.h"
