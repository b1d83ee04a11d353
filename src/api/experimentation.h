// Serving under experiments: the group a request's shopper is in decides
// how its scenario is served, and every list served is remembered for
// attribution. Used by the HTTP routes and by `vitrina simulate`.
#pragma once

#include <string>

#include "common/status.h"
#include "experiments/attribution.h"
#include "experiments/experiment_book.h"
#include "serving/recommend.h"

namespace vitrina {

// Sets `request`'s experiment fields from the group of its shopper in the
// experiment serving its scenario at `now_ms`, if any. `experiments` may be null.
void ApplyExperiment(const ExperimentBook* experiments, int64_t now_ms, RecommendRequest* request);

// What attribution keeps of a served response.
ShownList ImpressionOf(const RecommendRequest& request, const RecommendResponse& response);

// Assigns, recommends and records the list with `attributor` (may be null).
Result<RecommendResponse> RecommendUnderExperiments(const RecommendationService& recommender,
                                                    const ExperimentBook* experiments, Attributor* attributor,
                                                    int64_t now_ms, RecommendRequest request);

// Rebuilds `attributor` after a restart from the served lists kept in
// `served_dir` and the store's events.
Status RebuildAttribution(const std::string& served_dir, const Store& store, int64_t now_ms, Attributor* attributor);

}  // namespace vitrina
