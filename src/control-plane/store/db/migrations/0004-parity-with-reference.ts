import { Migration } from "@mikro-orm/migrations";

/**
 * Usage records keep the client's address and user agent; API keys get IP allow/deny lists and rolling spend limits
 * (summed per key over usage records, hence the index); users get a requests-per-minute limit.
 */
export class ParityWithReference extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "usage_records" add column "client_ip" text not null default \'\'');
    this.addSql('alter table "usage_records" add column "user_agent" text not null default \'\'');
    this.addSql(
      'create index "usage_records_key_id_created_at_index" on "usage_records" ("key_id", "created_at") include ("total_cost_usd")',
    );
    this.addSql('alter table "api_keys" add column "ip_allow" jsonb not null default \'[]\'');
    this.addSql('alter table "api_keys" add column "ip_deny" jsonb not null default \'[]\'');
    for (const window of ["5h", "1d", "7d"]) {
      this.addSql(`alter table "api_keys" add column "spend_limit_${window}_usd" numeric(24,12) null`);
    }
    this.addSql('alter table "users" add column "rpm_limit" int not null default 0');
  }
}
