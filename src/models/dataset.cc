#include "models/dataset.h"

#include <algorithm>
#include <cmath>

namespace vitrina {

int64_t Dataset::MaxTime() const {
  int64_t latest = 0;
  for (const Interaction& interaction : interactions) latest = std::max(latest, interaction.time_ms);
  return latest;
}

uint32_t CountBefore(std::span<const Interaction> interactions, int64_t time_ms) {
  auto first_not_before = std::partition_point(interactions.begin(), interactions.end(),
                                               [&](const Interaction& i) { return i.time_ms < time_ms; });
  return static_cast<uint32_t>(first_not_before - interactions.begin());
}

Dataset KeepPrefixes(const Dataset& data, const std::vector<uint32_t>& keep) {
  Dataset out;
  out.items = data.items;
  out.actor_ids = data.actor_ids;
  out.countries = data.countries;
  out.actor_countries = data.actor_countries;
  out.offsets.assign(1, 0);
  for (uint32_t a = 0; a < data.num_actors(); ++a) {
    auto interactions = data.ActorInteractions(a);
    out.interactions.insert(out.interactions.end(), interactions.begin(), interactions.begin() + keep[a]);
    out.offsets.push_back(static_cast<uint32_t>(out.interactions.size()));
  }
  return out;
}

std::string ActorIdOf(const Event& event) { return ActorIdOf(event.user_id, event.session_id); }

std::string ActorIdOf(std::string_view user_id, std::string_view session_id) {
  if (!user_id.empty()) return std::string(user_id);
  return "session:" + std::string(session_id);
}

ItemMeta ItemMetaFrom(const Item& item) {
  ItemMeta meta;
  meta.id = item.id;
  meta.title = item.title;
  meta.brand = item.brand;
  meta.category = item.category;
  meta.price = item.price;
  meta.active = item.active;
  for (const auto& [key, value] : item.attributes) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      meta.tags.push_back(key + "=" + *text);
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (const std::string& entry : *list) meta.tags.push_back(key + "=" + entry);
    }
  }
  return meta;
}

Result<Dataset> BuildDatasetFromStore(const Store& store, const SignalWeights& weights,
                                      const std::function<Status(DatasetBuilder*)>& more) {
  DatasetBuilder builder(weights);
  VITRINA_RETURN_IF_ERROR(store.ScanItems([&](const Item& item) {
    builder.AddItem(ItemMetaFrom(item));
    return true;
  }));
  VITRINA_RETURN_IF_ERROR(store.ScanEvents([&](const Event& event) {
    builder.AddEvent(event, /*add_unknown_items=*/true);
    return true;
  }));
  if (more) VITRINA_RETURN_IF_ERROR(more(&builder));
  return std::move(builder).Finish();
}

std::optional<LineSignal> SignalOf(EventType type, double amount, const SignalWeights& weights) {
  LineSignal out{Signal::kView, 0};
  switch (type) {
    case EventType::kView:
      out.weight = weights.view;
      break;
    case EventType::kClick:
    case EventType::kSearch:  // a search that led to an item (item_id): a click from the results
      out.weight = weights.click;
      break;
    case EventType::kRating:
      out.weight = static_cast<float>(amount) * weights.rating_scale;
      break;
    case EventType::kAddToCart:
      out = {Signal::kCart, weights.add_to_cart};
      break;
    case EventType::kPurchase:
      out = {Signal::kPurchase, weights.purchase * std::max(1.0f, static_cast<float>(std::log2(1.0 + amount)))};
      break;
    case EventType::kRemoveFromCart:
    case EventType::kReturn:
    case EventType::kImpression:
      break;
  }
  if (out.weight <= 0) return std::nullopt;
  return out;
}

void EventToInteractions(const Event& event, const SignalWeights& weights,
                         const std::function<int64_t(std::string_view)>& item_index,
                         std::vector<Interaction>* out) {
  auto emit = [&](std::string_view item_id, double amount) {
    const std::optional<LineSignal> signal = SignalOf(event.type, amount, weights);
    if (!signal || item_id.empty()) return;
    int64_t index = item_index(item_id);
    if (index < 0) return;
    Interaction interaction;
    interaction.item = static_cast<uint32_t>(index);
    interaction.signal = signal->signal;
    interaction.weight = signal->weight;
    interaction.time_ms = event.timestamp_ms;
    out->push_back(interaction);
  };
  if (event.lines.empty()) {
    emit(event.item_id, event.type == EventType::kRating ? event.value.value_or(0) : 1.0);
  } else {
    for (const EventLine& line : event.lines) emit(line.item_id, line.quantity);
  }
}

uint32_t DatasetBuilder::AddItem(ItemMeta meta) {
  auto [it, inserted] = item_index_.try_emplace(meta.id, static_cast<uint32_t>(data_.items.size()));
  if (inserted) {
    data_.items.push_back(std::move(meta));
  } else {
    data_.items[it->second] = std::move(meta);
  }
  return it->second;
}

int64_t DatasetBuilder::FindItem(std::string_view id) const {
  auto it = item_index_.find(std::string(id));
  return it == item_index_.end() ? -1 : static_cast<int64_t>(it->second);
}

uint32_t DatasetBuilder::ActorIndex(std::string_view actor_id) {
  auto [it, inserted] = actor_index_.try_emplace(std::string(actor_id), static_cast<uint32_t>(data_.actor_ids.size()));
  if (inserted) data_.actor_ids.emplace_back(actor_id);
  return it->second;
}

uint32_t DatasetBuilder::SessionIndex(std::string_view session_id) {
  if (session_id.empty()) return 0;
  auto [it, inserted] =
      session_index_.try_emplace(std::string(session_id), static_cast<uint32_t>(session_index_.size() + 1));
  return it->second;
}

void DatasetBuilder::AddEvent(const Event& event, bool add_unknown_items) {
  std::vector<Interaction> produced;
  EventToInteractions(
      event, weights_,
      [&](std::string_view id) -> int64_t {
        int64_t index = FindItem(id);
        if (index < 0 && add_unknown_items) {
          ItemMeta meta;
          meta.id = std::string(id);
          index = AddItem(std::move(meta));
        }
        return index;
      },
      &produced);
  if (produced.empty()) return;
  // What a shopper took from a list the shop served them.
  if (!event.recommendation_id.empty() && (event.type == EventType::kClick || event.type == EventType::kAddToCart ||
                                           event.type == EventType::kPurchase)) {
    std::vector<uint32_t>& taken = taken_[event.recommendation_id];
    for (const Interaction& interaction : produced) taken.push_back(interaction.item);
  }
  uint32_t actor = ActorIndex(ActorIdOf(event));
  if (!event.context.country.empty() && data_.countries.size() < UINT16_MAX) {
    auto [it, inserted] = country_index_.try_emplace(event.context.country, static_cast<uint16_t>(data_.countries.size()));
    if (inserted) data_.countries.push_back(event.context.country);
    if (data_.actor_countries.size() <= actor) data_.actor_countries.resize(actor + 1, 0);
    data_.actor_countries[actor] = it->second;  // the event ingested last wins
  }
  uint32_t session = SessionIndex(event.session_id);
  uint32_t order = event.type == EventType::kPurchase ? next_order_++ : 0;
  for (Interaction& interaction : produced) {
    interaction.session = session;
    interaction.order = order;
    pending_.emplace_back(actor, interaction);
  }
}

void DatasetBuilder::Add(std::string_view actor_id, Interaction interaction) {
  pending_.emplace_back(ActorIndex(actor_id), interaction);
}

void DatasetBuilder::AddServedList(std::string_view recommendation_id, std::string_view actor_id, int64_t time_ms,
                                   const std::vector<std::string>& shown) {
  PendingList list{.recommendation_id = std::string(recommendation_id), .actor_id = std::string(actor_id)};
  list.impression.time_ms = time_ms;
  for (const std::string& id : shown) {
    if (int64_t index = FindItem(id); index >= 0) list.impression.shown.push_back(static_cast<uint32_t>(index));
  }
  if (!list.impression.shown.empty()) served_.push_back(std::move(list));
}

Dataset DatasetBuilder::Finish() && {
  std::stable_sort(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second.time_ms < b.second.time_ms;
  });
  data_.offsets.assign(data_.actor_ids.size() + 1, 0);
  data_.interactions.clear();
  data_.interactions.reserve(pending_.size());
  for (const auto& [actor, interaction] : pending_) {
    ++data_.offsets[actor + 1];
    data_.interactions.push_back(interaction);
  }
  for (size_t a = 0; a < data_.actor_ids.size(); ++a) data_.offsets[a + 1] += data_.offsets[a];
  data_.actor_countries.resize(data_.actor_ids.size(), 0);
  pending_.clear();
  pending_.shrink_to_fit();
  for (PendingList& list : served_) {
    auto actor = actor_index_.find(list.actor_id);
    if (actor == actor_index_.end()) continue;
    ServedImpression& impression = list.impression;
    impression.actor = actor->second;
    if (auto taken = taken_.find(list.recommendation_id); taken != taken_.end()) {
      for (uint32_t item : taken->second) {
        if (std::find(impression.shown.begin(), impression.shown.end(), item) != impression.shown.end()) {
          impression.taken.push_back(item);
        }
      }
      std::sort(impression.taken.begin(), impression.taken.end());
      impression.taken.erase(std::unique(impression.taken.begin(), impression.taken.end()), impression.taken.end());
    }
    data_.impressions.push_back(std::move(impression));
  }
  served_.clear();
  std::sort(data_.impressions.begin(), data_.impressions.end(),
            [](const ServedImpression& a, const ServedImpression& b) { return a.time_ms < b.time_ms; });
  return std::move(data_);
}

}  // namespace vitrina
