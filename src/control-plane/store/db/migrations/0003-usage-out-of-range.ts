import { Migration } from "@mikro-orm/migrations";

/** Usage records flag token counts an upstream reported out of range (recorded as 0, so billing never breaks). */
export class UsageOutOfRange extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "usage_records" add column "usage_out_of_range" boolean not null default false');
  }
}
