import { Migration } from "@mikro-orm/migrations";

/** The first schema: users, groups, API keys, accounts, passthrough rules, prices, subscriptions, usage, settings. */
export class InitialSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create table "accounts" ("id" uuid not null, "name" text not null, "platform" text not null, "type" text not null, "base_url" text not null, "credential_ciphertext" text not null, "credential_key_id" text not null, "proxy_url" text not null, "concurrency" int not null, "priority" int not null, "model_mapping" jsonb not null, "group_ids" jsonb not null, "status" text not null, "schedulable" boolean not null, "rate_limited_until" timestamptz null, "overloaded_until" timestamptz null, "temp_unschedulable_until" timestamptz null, "status_reason" text not null, "health" jsonb not null, "last_used_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "accounts_pkey" primary key ("id"))',
    );
    this.addSql('alter table "accounts" add constraint "accounts_name_unique" unique ("name")');
    this.addSql(
      'create table "api_keys" ("id" uuid not null, "key_sha256" bytea not null, "prefix" text not null, "name" text not null, "user_id" uuid not null, "group_id" uuid not null, "status" text not null, "expires_at" timestamptz null, "quota_usd" numeric(24,12) null, "quota_used_usd" numeric(24,12) not null, "last_used_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "api_keys_pkey" primary key ("id"))',
    );
    this.addSql('alter table "api_keys" add constraint "api_keys_key_sha256_unique" unique ("key_sha256")');
    this.addSql('create index "api_keys_user_id_index" on "api_keys" ("user_id")');
    this.addSql('create index "api_keys_group_id_index" on "api_keys" ("group_id")');
    this.addSql(
      'create table "groups" ("id" uuid not null, "name" text not null, "description" text not null, "rate_multiplier" numeric(12,6) not null, "billing_mode" text not null, "daily_limit_usd" numeric(24,12) null, "weekly_limit_usd" numeric(24,12) null, "monthly_limit_usd" numeric(24,12) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "groups_pkey" primary key ("id"))',
    );
    this.addSql('alter table "groups" add constraint "groups_name_unique" unique ("name")');
    this.addSql(
      'create table "model_prices" ("model" text not null, "input_usd_per_mtok" numeric(24,12) not null, "cached_input_usd_per_mtok" numeric(24,12) not null, "output_usd_per_mtok" numeric(24,12) not null, "updated_at" timestamptz not null, constraint "model_prices_pkey" primary key ("model"))',
    );
    this.addSql(
      'create table "passthrough_rules" ("id" uuid not null, "name" text not null, "enabled" boolean not null, "priority" int not null, "error_codes" jsonb not null, "keywords" jsonb not null, "match_mode" text not null, "platforms" jsonb not null, "passthrough_code" boolean not null, "response_code" int not null, "passthrough_body" boolean not null, "custom_message" text not null, "skip_monitoring" boolean not null, "description" text not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "passthrough_rules_pkey" primary key ("id"))',
    );
    this.addSql(
      'alter table "passthrough_rules" add constraint "passthrough_rules_name_unique" unique ("name")',
    );
    this.addSql(
      'create table "settings" ("key" text not null, "value" jsonb not null, "updated_at" timestamptz not null, constraint "settings_pkey" primary key ("key"))',
    );
    this.addSql(
      'create table "subscriptions" ("id" uuid not null, "user_id" uuid not null, "group_id" uuid not null, "status" text not null, "starts_at" timestamptz not null, "expires_at" timestamptz not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "subscriptions_pkey" primary key ("id"))',
    );
    this.addSql('create index "subscriptions_user_id_index" on "subscriptions" ("user_id")');
    this.addSql('create index "subscriptions_group_id_index" on "subscriptions" ("group_id")');
    this.addSql(
      'create table "usage_records" ("request_id" text not null, "lease_id" text not null, "user_id" uuid not null, "key_id" uuid not null, "group_id" uuid not null, "account_id" uuid null, "subscription_id" uuid null, "requested_model" text not null, "upstream_model" text not null, "endpoint" text not null, "stream" boolean not null, "input_tokens" int not null, "cached_input_tokens" int not null, "output_tokens" int not null, "reasoning_tokens" int not null, "input_cost_usd" numeric(24,12) not null, "cached_input_cost_usd" numeric(24,12) not null, "output_cost_usd" numeric(24,12) not null, "rate_multiplier" numeric(12,6) not null, "total_cost_usd" numeric(24,12) not null, "outcome" text not null, "status_code" int not null, "first_token_ms" int not null, "duration_ms" int not null, "failover_count" int not null, "upstream_request_id" text not null, "created_at" timestamptz not null, constraint "usage_records_pkey" primary key ("request_id"))',
    );
    this.addSql('create index "usage_records_user_id_index" on "usage_records" ("user_id")');
    this.addSql('create index "usage_records_key_id_index" on "usage_records" ("key_id")');
    this.addSql('create index "usage_records_account_id_index" on "usage_records" ("account_id")');
    this.addSql('create index "usage_records_created_at_index" on "usage_records" ("created_at")');
    this.addSql(
      'create table "users" ("id" uuid not null, "name" text not null, "status" text not null, "balance_usd" numeric(24,12) not null, "concurrency" int not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "users_pkey" primary key ("id"))',
    );
    this.addSql('alter table "users" add constraint "users_name_unique" unique ("name")');
  }
}
