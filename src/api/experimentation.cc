#include "api/experimentation.h"

#include <algorithm>

namespace vitrina {

void ApplyExperiment(const ExperimentBook* experiments, int64_t now_ms, RecommendRequest* request) {
  if (experiments == nullptr) return;
  std::optional<ActiveAssignment> active =
      experiments->Assign(ScenarioName(request->scenario), request->user_id, request->session_id, now_ms);
  if (!active) return;
  const Assignment& assignment = active->assignment;
  request->experiment = assignment.experiment->id;
  request->variant = std::string(assignment.group_name());
  request->personalize = !assignment.holdout();
  if (const VariantSetting* setting = assignment.setting(ScenarioName(request->scenario))) {
    request->variant_model = setting->model;
    request->use_ranker = setting->ranker.value_or(true);
    request->merchandising = setting->rules.value_or(true);
  }
}

ShownList ImpressionOf(const RecommendRequest& request, const RecommendResponse& response) {
  ShownList impression{.recommendation_id = response.recommendation_id,
                        .at_ms = response.served_ms,
                        .scenario = std::string(ScenarioName(request.scenario)),
                        .user_id = request.user_id,
                        .session_id = request.session_id,
                        .snapshot = response.snapshot_id,
                        .experiment = response.experiment,
                        .group = response.variant};
  for (const RecommendedItem& item : response.items) impression.items.push_back(item.item_id);
  return impression;
}

Result<RecommendResponse> RecommendUnderExperiments(const RecommendationService& recommender,
                                                    const ExperimentBook* experiments, Attributor* attributor,
                                                    int64_t now_ms, RecommendRequest request) {
  ApplyExperiment(experiments, now_ms, &request);
  Result<RecommendResponse> response = recommender.Recommend(request);
  if (response.ok() && attributor != nullptr) attributor->OnServed(ImpressionOf(request, *response));
  return response;
}

Status RebuildAttribution(const std::string& served_dir, const Store& store, int64_t now_ms, Attributor* attributor) {
  std::vector<ShownList> lists;
  // Older lists can only matter as an experiment's exposures.
  const int64_t oldest = now_ms - std::max(attributor->options().window_ms, attributor->options().tagged_max_age_ms);
  VITRINA_RETURN_IF_ERROR(ForEachServedList(served_dir, [&](const ServedList& list) {
    if (list.experiment.empty() && list.at_ms < oldest) return;
    ShownList impression{.recommendation_id = list.recommendation_id,
                         .at_ms = list.at_ms,
                         .scenario = list.scenario,
                         .user_id = list.user_id,
                         .session_id = list.session_id,
                         .snapshot = list.snapshot,
                         .experiment = list.experiment,
                         .group = list.variant};
    for (const ServedItem& item : list.items) impression.items.push_back(item.item_id);
    lists.push_back(std::move(impression));
  }));
  return attributor->Rebuild(store, std::move(lists), now_ms);
}

}  // namespace vitrina
