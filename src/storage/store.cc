#include "storage/store.h"

namespace vitrina {

Status Store::GetRecentActivity(ActorKind kind, std::string_view actor_id, size_t limit,
                                RecentActivity* activity) const {
  activity->Clear();
  VITRINA_RETURN_IF_ERROR(GetRecentEvents(kind, actor_id, limit, &activity->backing));
  for (const Event& event : activity->backing) {
    ForEachActivityLine(event, [&](const ActivityLine& line) { activity->lines.push_back(line); });
  }
  return Status::OK();
}

Result<std::string> SetAsideDocument(Store* store, std::string_view key, std::string_view value, int64_t now_ms) {
  std::string aside = std::string(kUnreadablePrefix) + std::string(key) + "@" + std::to_string(now_ms);
  VITRINA_RETURN_IF_ERROR(store->PutDocuments({{aside, std::string(value)}}));
  return aside;
}

}  // namespace vitrina
