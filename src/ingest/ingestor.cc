#include "ingest/ingestor.h"

namespace vitrina {

Ingestor::Ingestor(Store* store, IngestorOptions options, Committed committed)
    : store_(store), options_(options), committed_(std::move(committed)), thread_([this] { Run(); }) {}

Ingestor::~Ingestor() { Close(); }

void Ingestor::Close() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Ingestor::Submit(WriteBatch batch, size_t approx_bytes, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Status::Unavailable("the server is shutting down");
    // An empty queue takes any batch, so one large request always fits.
    if (queued_records_ > 0 && (queued_records_ + batch.size() > options_.max_queued_records ||
                                queued_bytes_ + approx_bytes > options_.max_queued_bytes)) {
      return Status::Unavailable("ingest queue is full (" + std::to_string(queued_records_) +
                                 " records waiting); retry shortly");
    }
    queued_records_ += batch.size();
    queued_bytes_ += approx_bytes;
    queue_.push_back(Job{std::move(batch), approx_bytes, std::move(done)});
  }
  wake_.notify_one();
  return Status::OK();
}

IngestorStats Ingestor::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Ingestor::Run() {
  std::vector<Job> group;
  std::vector<size_t> sizes;
  WriteBatch merged;
  std::vector<WriteOutcome> outcomes;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to commit
      size_t records = 0, bytes = 0;
      while (!queue_.empty() && (group.empty() || records + queue_.front().batch.size() <= options_.max_group_records)) {
        records += queue_.front().batch.size();
        bytes += queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_records_ -= records;
      queued_bytes_ -= bytes;
    }
    sizes.clear();
    for (Job& job : group) {
      sizes.push_back(job.batch.size());
      merged.Append(std::move(job.batch));
    }
    Status status = store_->Write(&merged, &outcomes);
    if (status.ok() && committed_) committed_(merged, outcomes);
    size_t offset = 0;
    for (size_t i = 0; i < group.size(); ++i) {
      std::vector<WriteOutcome> mine;
      if (status.ok()) mine.assign(outcomes.begin() + offset, outcomes.begin() + offset + sizes[i]);
      offset += sizes[i];
      group[i].done(status, std::move(mine));
    }
    {
      std::lock_guard lock(mutex_);
      if (status.ok()) {
        ++stats_.groups;
        stats_.batches += group.size();
        stats_.records += merged.size();
      }
    }
    group.clear();
    merged.Clear();
  }
}

}  // namespace vitrina
