// The metrics registry (metrics.h). Placeholder bodies: the metrics part of issue 12 replaces them.
#include "db/metrics.h"

namespace settee::metrics {

void count(std::string_view, uint64_t) {}
void gauge(std::string_view, int64_t) {}
void gaugeFn(std::string_view, std::function<int64_t()>) {}
void observe(std::string_view, double) {}

}  // namespace settee::metrics
