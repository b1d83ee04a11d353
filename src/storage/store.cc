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

}  // namespace vitrina
