/*
 * Definitions cppcheck needs and does not read from system headers (make
 * lint passes no system include path, so that only our code is analysed):
 * cJSON's iteration macro, as <cjson/cJSON.h> defines it.
 */
#define cJSON_ArrayForEach(element, array) \
	for (element = (array) != NULL ? (array)->child : NULL; element != NULL; \
	     element = element->next)
