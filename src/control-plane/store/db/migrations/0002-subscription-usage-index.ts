import { Migration } from "@mikro-orm/migrations";

/** Subscription window sums read at admit (per subscription, by time) without scanning usage_records. */
export class SubscriptionUsageIndex extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create index "usage_records_subscription_id_created_at_index" on "usage_records" ("subscription_id", "created_at") include ("total_cost_usd") where "subscription_id" is not null',
    );
  }
}
