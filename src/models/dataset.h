// What models train on: interactions in dense index space.
//
// Items and actors (users, or anonymous sessions) get dense indices
// 0..n-1. Each actor's interactions are kept in time order, so models can
// use sequences (recency, "viewed together" windows) as well as the
// user-item matrix. Built once, then read-only and safe to share.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "schema/types.h"
#include "storage/store.h"

namespace vitrina {

// How strong a signal an interaction is.
enum class Signal : uint8_t { kView = 0, kCart = 1, kPurchase = 2 };

struct Interaction {
  uint32_t item = 0;
  Signal signal = Signal::kView;
  float weight = 1;      // > 0: strength by event type and quantity
  int64_t time_ms = 0;
  uint32_t session = 0;  // same non-zero value: the same browsing session
  uint32_t order = 0;    // same non-zero value: the same basket / order
};

// What content models and filters know about an item.
struct ItemMeta {
  std::string id;
  std::string title;
  std::string brand;
  std::vector<std::string> category;  // root first
  std::vector<std::string> tags;      // opaque attribute tokens (e.g. S3-Rec attribute ids)
  std::optional<double> price;
  bool active = true;
};

// A list the shop showed a shopper (from the served log) and which of its
// items they then clicked, carted or bought (events carrying the list's
// recommendation_id): what a ranker can learn from directly.
struct ServedImpression {
  uint32_t actor = 0;
  int64_t time_ms = 0;
  std::vector<uint32_t> shown;  // in display order
  std::vector<uint32_t> taken;  // sorted, distinct, all in `shown`
};

struct Dataset {
  std::vector<ItemMeta> items;          // by item index
  std::vector<std::string> actor_ids;   // by actor index
  std::vector<uint32_t> offsets{0};     // actor a owns interactions[offsets[a], offsets[a+1])
  std::vector<Interaction> interactions;
  std::vector<ServedImpression> impressions;  // empty unless served lists were added
  // Where each actor shops from: the country of the last event ingested
  // that named one (an index into `countries`, whose entry 0 is "": unknown).
  std::vector<std::string> countries{""};
  std::vector<uint16_t> actor_countries;  // by actor index

  size_t num_items() const { return items.size(); }
  size_t num_actors() const { return actor_ids.size(); }
  std::span<const Interaction> ActorInteractions(uint32_t actor) const {
    return {interactions.data() + offsets[actor], interactions.data() + offsets[actor + 1]};
  }
  // Latest interaction time, 0 when there is none.
  int64_t MaxTime() const;
};

// How many of an actor's interactions (in time order) happened before `time_ms`.
uint32_t CountBefore(std::span<const Interaction> interactions, int64_t time_ms);

// A copy of `data` keeping, for actor a, its first keep[a] interactions
// (keep has one entry per actor).
Dataset KeepPrefixes(const Dataset& data, const std::vector<uint32_t>& keep);

// Weights of each event type as a training signal. Types not listed
// (search, impression, remove_from_cart, return) are not interactions.
struct SignalWeights {
  float view = 1;
  float click = 1;
  float add_to_cart = 3;
  float purchase = 5;      // times log2(1 + quantity) per line, at least this
  float rating_scale = 1;  // rating value * this (ratings <= 0 are ignored)
};

// What one item of an event of this type says about taste: the signal and
// its weight; none for types that carry no preference. `amount` is the
// line's quantity (cart, purchase) or the rating's value.
struct LineSignal {
  Signal signal;
  float weight;
};
std::optional<LineSignal> SignalOf(EventType type, double amount, const SignalWeights& weights);

// Turns one event into interactions (none for types that carry no
// preference). `item_index` maps an item id to its index or returns -1 for
// unknown items, which are skipped.
// `session` and `order` are left 0.
void EventToInteractions(const Event& event, const SignalWeights& weights,
                         const std::function<int64_t(std::string_view)>& item_index,
                         std::vector<Interaction>* out);

// Accumulates a Dataset from items and events given by external id, in any
// order; Finish() sorts each actor's interactions by time (stable).
class DatasetBuilder {
 public:
  explicit DatasetBuilder(SignalWeights weights = {}) : weights_(weights) {}

  // Registers or replaces an item's metadata; returns its index.
  uint32_t AddItem(ItemMeta meta);
  // Index of a known item, -1 otherwise.
  int64_t FindItem(std::string_view id) const;
  // Adds the interactions of one event. Items not yet known are added with
  // only their id when `add_unknown_items`, skipped otherwise.
  void AddEvent(const Event& event, bool add_unknown_items);
  // Adds one interaction for an actor by external ids.
  void Add(std::string_view actor_id, Interaction interaction);
  // Adds a served list; Finish keeps it with the items taken from it (by
  // events with its recommendation_id) when its actor has interactions.
  // Unknown items are left out of it.
  void AddServedList(std::string_view recommendation_id, std::string_view actor_id, int64_t time_ms,
                     const std::vector<std::string>& shown);

  Dataset Finish() &&;

 private:
  uint32_t ActorIndex(std::string_view actor_id);
  uint32_t SessionIndex(std::string_view session_id);

  SignalWeights weights_;
  Dataset data_;
  std::unordered_map<std::string, uint32_t> item_index_;
  std::unordered_map<std::string, uint32_t> actor_index_;
  std::unordered_map<std::string, uint32_t> session_index_;
  std::vector<std::pair<uint32_t, Interaction>> pending_;  // (actor, interaction)
  uint32_t next_order_ = 1;
  struct PendingList {
    std::string recommendation_id;
    std::string actor_id;
    ServedImpression impression;  // shown filled, actor and taken set by Finish
  };
  std::vector<PendingList> served_;
  std::unordered_map<std::string, uint16_t> country_index_;
  std::unordered_map<std::string, std::vector<uint32_t>> taken_;  // recommendation_id -> items taken
};

// ItemMeta from a catalog item: category path, brand, title, price; the
// string and string-list attributes become tags ("key=value").
ItemMeta ItemMetaFrom(const Item& item);

// Every item and every event of a store. Events are visited in ingest
// order; items only referenced by events are added with just their id.
// `more`, when given, may add to the builder (served lists) before it is
// finished.
Result<Dataset> BuildDatasetFromStore(const Store& store, const SignalWeights& weights = {},
                                      const std::function<Status(DatasetBuilder*)>& more = nullptr);

// The actor an event belongs to: its user, else "session:" + its session.
std::string ActorIdOf(const Event& event);
std::string ActorIdOf(std::string_view user_id, std::string_view session_id);

}  // namespace vitrina
