/**
 * The schema, as an ordered list of migrations. They use only PostgreSQL features that PGlite has,
 * so the same list runs on the embedded database and on a PostgreSQL server.
 * Never edit a migration that has shipped: add the next one.
 */
import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

const migrations: Record<string, Migration> = {
  '0001-foundation': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('customers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.unique())
        .addColumn('phone', 'text', (c) => c.unique())
        .addColumn('first_name', 'text')
        .addColumn('last_name', 'text')
        .addColumn('timezone', 'text', (c) => c.notNull().defaultTo('UTC'))
        .addColumn('locale', 'text', (c) => c.notNull().defaultTo('en'))
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull().defaultTo('prospect'))
        .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
        .addColumn('attributes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('preferred_channel', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();

      await db.schema
        .createTable('events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
        .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('data', 'jsonb', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('routed_at', 'timestamptz')
        .addColumn('result', 'jsonb')
        .execute();
      await db.schema
        .createIndex('events_unrouted')
        .on('events')
        .column('received_at')
        .where(sql.ref('routed_at'), 'is', null)
        .execute();

      await db.schema
        .createTable('timeline')
        .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('at', 'timestamptz', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('data', 'jsonb', (c) => c.notNull())
        .addColumn('ref', 'text')
        .execute();
      await db.schema.createIndex('timeline_customer').on('timeline').columns(['customer_id', 'at', 'id']).execute();
      await db.schema
        .createIndex('timeline_ref')
        .on('timeline')
        .columns(['customer_id', 'kind', 'ref'])
        .unique()
        .execute();

      await db.schema
        .createTable('journeys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();

      await db.schema
        .createTable('journey_versions')
        .addColumn('journey_id', 'text', (c) => c.notNull().references('journeys.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('definition', 'jsonb', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('source_path', 'text')
        .addColumn('published_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('journey_versions_pk', ['journey_id', 'version'])
        .execute();

      await db.schema
        .createTable('enrollments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('journey_id', 'text', (c) => c.notNull().references('journeys.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('current_step', 'text')
        .addColumn('goal_met', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('outcome', 'text')
        .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('ended_at', 'timestamptz')
        .execute();
      // At most one active enrollment per customer per journey.
      await db.schema
        .createIndex('enrollments_one_active')
        .on('enrollments')
        .columns(['customer_id', 'journey_id'])
        .unique()
        .where(sql.ref('status'), '=', 'active')
        .execute();

      await db.schema
        .createTable('send_ledger')
        .addColumn('send_key', 'text', (c) => c.primaryKey())
        .addColumn('customer_id', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('phase', 'text')
        .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('claimed_at', 'timestamptz')
        .addColumn('provider_ref', 'text')
        .addColumn('last_error', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  '0002-tasks-orders': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('task_key', 'text', (c) => c.notNull().unique())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('enrollment_id', 'text')
        .addColumn('workflow_id', 'text')
        .addColumn('journey_id', 'text')
        .addColumn('step_id', 'text')
        .addColumn('team', 'text')
        .addColumn('assignee', 'text')
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('due_at', 'timestamptz')
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
        .addColumn('outcome', 'text')
        .addColumn('note', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('completed_at', 'timestamptz')
        .execute();
      await db.schema.createIndex('tasks_open_by_team').on('tasks').columns(['status', 'team', 'due_at']).execute();

      await db.schema
        .createTable('orders')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('placed_at', 'timestamptz', (c) => c.notNull())
        .addColumn('total', sql`numeric(14,2)`, (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull().defaultTo('USD'))
        .addColumn('event_id', 'text')
        .execute();
      await db.schema.createIndex('orders_customer').on('orders').columns(['customer_id', 'placed_at']).execute();
      await db.schema
        .createTable('order_lines')
        .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
        .addColumn('line', 'integer', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('category', 'text')
        .addColumn('quantity', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('price', sql`numeric(14,2)`, (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('order_lines_pk', ['order_id', 'line'])
        .execute();
    },
  },
  '0003-contact-policy': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('consents')
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('granted', 'boolean', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
        .addColumn('evidence', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addPrimaryKeyConstraint('consents_pk', ['customer_id', 'channel', 'purpose'])
        .execute();
      await db.schema
        .createTable('suppressions')
        .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('lifted_at', 'timestamptz')
        .execute();
      await db.schema
        .createIndex('suppressions_active')
        .on('suppressions')
        .columns(['customer_id', 'channel'])
        .where(sql.ref('lifted_at'), 'is', null)
        .execute();
      await db.schema.alterTable('send_ledger').addColumn('category', 'text').execute();
      await db.schema.alterTable('send_ledger').addColumn('sent_at', 'timestamptz').execute();
      await db.schema.createIndex('send_ledger_sent').on('send_ledger').columns(['customer_id', 'sent_at']).execute();
    },
  },
  '0004-identities': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('identities')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('identities_pk', ['kind', 'value'])
        .execute();
      await db.schema.createIndex('identities_customer').on('identities').column('customer_id').execute();
      await db.schema.alterTable('customers').addColumn('merged_into', 'text').execute();
      // Existing emails and phones become identities.
      await sql`insert into identities (kind, value, customer_id)
        select 'email', email, id from customers where email is not null
        union all select 'phone', phone, id from customers where phone is not null
        on conflict do nothing`.execute(db);
    },
  },
  '0005-delivery-status': {
    async up(db: Kysely<unknown>) {
      // Status callbacks name a message by the provider's id.
      await db.schema.createIndex('send_ledger_provider_ref').on('send_ledger').column('provider_ref').execute();
    },
  },
  '0006-api-keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scopes', 'jsonb', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('last4', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('last_used_at', 'timestamptz')
        .addColumn('revoked_at', 'timestamptz')
        .execute();
    },
  },
  '0007-one-active-enrollment-per-workflow': {
    async up(db: Kysely<unknown>) {
      // One active enrollment per workflow. A journey's workflow id is derived from the journey and
      // the customer, so this is still one per customer and journey, except where a journey enrolls
      // concurrently (each enrollment its own workflow) and, for a moment, after two records merged.
      await db.schema.dropIndex('enrollments_one_active').execute();
      await db.schema
        .createIndex('enrollments_one_active_workflow')
        .on('enrollments')
        .column('workflow_id')
        .unique()
        .where(sql.ref('status'), '=', 'active')
        .execute();
      // Customers whose records merged and whose enrollments are still to be settled (one per journey).
      await db.schema
        .createTable('merge_followups')
        .addColumn('customer_id', 'text', (c) => c.primaryKey())
        .addColumn('merged_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createIndex('enrollments_customer_journey')
        .on('enrollments')
        .columns(['customer_id', 'journey_id', 'started_at'])
        .execute();
    },
  },
  '0008-routing-retries': {
    async up(db: Kysely<unknown>) {
      // The order events were accepted in (received_at is the transaction's time, shared by a batch).
      await sql`alter table events add column seq bigint generated always as identity`.execute(db);
      // Routing that failed: how often, why, when to try again, and when it was given up (parked).
      await db.schema
        .alterTable('events')
        .addColumn('route_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('events').addColumn('route_error', 'text').execute();
      await db.schema.alterTable('events').addColumn('next_route_at', 'timestamptz').execute();
      await db.schema.alterTable('events').addColumn('parked_at', 'timestamptz').execute();
      await db.schema.dropIndex('events_unrouted').execute();
      await db.schema
        .createIndex('events_to_route')
        .on('events')
        .column('seq')
        .where(sql.ref('routed_at'), 'is', null)
        .execute();
      await db.schema
        .createIndex('events_customer_to_route')
        .on('events')
        .columns(['customer_id', 'seq'])
        .where(sql.ref('routed_at'), 'is', null)
        .execute();
    },
  },
  '0009-routing-order': {
    async up(db: Kysely<unknown>) {
      // The order events were routed in, across every process routing them.
      await sql`create sequence events_routed_order`.execute(db);
      await db.schema.alterTable('events').addColumn('routed_seq', 'bigint').execute();
    },
  },
  '0010-data-keys': {
    async up(db: Kysely<unknown>) {
      // Each customer's key for what Rapport writes to Temporal about them, wrapped by the master key;
      // erasure deletes it (client/server/protection.ts).
      await db.schema
        .createTable('data_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject', 'text', (c) => c.notNull().unique())
        .addColumn('wrapped', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  '0011-inbound-once-and-address-suppressions': {
    async up(db: Kysely<unknown>) {
      // Each inbound SMS is acted on once: a replayed START cannot undo a later STOP.
      await db.schema
        .createTable('inbound_messages')
        .addColumn('sid', 'text', (c) => c.primaryKey())
        .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      // Opt-outs by address (a SHA-256 of it, not the address), whoever has it now or later.
      await db.schema
        .createTable('address_suppressions')
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('address_hash', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('lifted_at', 'timestamptz')
        .addPrimaryKeyConstraint('address_suppressions_pk', ['channel', 'address_hash'])
        .execute();
    },
  },
  '0012-reconciliation': {
    async up(db: Kysely<unknown>) {
      // When the reconciler last compared an active enrollment with its workflow: it takes the
      // least recently compared first (client/server/events/reconcile.ts).
      await db.schema.alterTable('enrollments').addColumn('reconciled_at', 'timestamptz').execute();
      await db.schema
        .createIndex('enrollments_to_reconcile')
        .on('enrollments')
        .columns(['reconciled_at', 'started_at'])
        .where(sql.ref('status'), '=', 'active')
        .execute();
      // Claims of sends still open, for the sweep of those whose journey has gone.
      await db.schema
        .createIndex('send_ledger_claimed')
        .on('send_ledger')
        .column('claimed_at')
        .where(sql.ref('state'), '=', 'claimed')
        .execute();
    },
  },
  '0013-journey-report': {
    async up(db: Kysely<unknown>) {
      // What each enrollment has reported, so a retried record counts once (and a step reached
      // twice, in a loop, counts its customer once).
      await db.schema
        .createTable('journey_marks')
        .addColumn('enrollment_id', 'text', (c) => c.notNull())
        .addColumn('mark', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('journey_marks_pk', ['enrollment_id', 'mark'])
        .execute();
      // The report's counts, kept as they happen: a report sums a journey's rows, whatever the
      // number of enrollments behind them.
      await db.schema
        .createTable('journey_stats')
        .addColumn('journey_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('day', 'date', (c) => c.notNull())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('journey_stats_pk', ['journey_id', 'version', 'day', 'metric', 'key'])
        .execute();
    },
  },
  '0014-insights': {
    async up(db: Kysely<unknown>) {
      // The customer value models fitted on the customer base; the newest one predicts.
      await db.schema
        .createTable('insight_models')
        .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('fitted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('period_end', 'timestamptz', (c) => c.notNull())
        .addColumn('customers', 'integer', (c) => c.notNull())
        .addColumn('params', 'jsonb', (c) => c.notNull())
        .execute();
    },
  },
  '0015-segments': {
    async up(db: Kysely<unknown>) {
      // Whether each customer is in each segment-entry journey's segment, and how often that changed:
      // the n-th change is accepted as the event `segment:<journey>:<customer>:<n>`, once.
      await db.schema
        .createTable('segment_members')
        .addColumn('journey_id', 'text', (c) => c.notNull())
        .addColumn('customer_id', 'text', (c) => c.notNull())
        .addColumn('inside', 'boolean', (c) => c.notNull())
        .addColumn('changes', 'integer', (c) => c.notNull())
        .addColumn('changed_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('segment_members_pk', ['journey_id', 'customer_id'])
        .execute();
    },
  },
  '0019-lead-scores': {
    async up(db: Kysely<unknown>) {
      // The lead score as of score_at, and the half-life it decays by from then: the score now is
      // computed on read, so decay needs no job. scored_rules lists the attribute rules already counted.
      await db.schema
        .alterTable('customers')
        .addColumn('score', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('score_at', 'timestamptz')
        .addColumn('score_half_life_s', 'double precision')
        .addColumn('scored_rules', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
        .execute();
    },
  },
  '0017-accounts': {
    async up(db: Kysely<unknown>) {
      // Client organisations, by the id the other system gives them; their contacts are customers.
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text')
        .addColumn('attributes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .alterTable('customers')
        .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
        .execute();
      await db.schema
        .createIndex('customers_account')
        .on('customers')
        .column('account_id')
        .where(sql.ref('account_id'), 'is not', null)
        .execute();
      // The account an order was placed for: it stays with that account should its contact move on.
      await db.schema
        .alterTable('orders')
        .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
        .execute();
      await db.schema
        .createIndex('orders_account')
        .on('orders')
        .column('account_id')
        .where(sql.ref('account_id'), 'is not', null)
        .execute();
    },
  },
  '0021-audit': {
    async up(db: Kysely<unknown>) {
      // Who did what to what (activities/store/audit.ts): ids and counts only, never message content
      // or personal data, so erasure leaves it as it is.
      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('actor_key_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();
      // Append-only, whoever connects: the database itself refuses to change or remove an entry.
      await sql`
        create function audit_log_append_only() returns trigger language plpgsql as $$
        begin
          raise exception 'the audit log is append-only: % is refused', tg_op;
        end
        $$`.execute(db);
      await sql`
        create trigger audit_log_append_only before update or delete on audit_log
        for each row execute function audit_log_append_only()`.execute(db);
      await sql`
        create trigger audit_log_no_truncate before truncate on audit_log
        for each statement execute function audit_log_append_only()`.execute(db);
    },
  },
  '0018-order-costs': {
    async up(db: Kysely<unknown>) {
      // What a unit cost the seller, when the order says: profit is known for the lines that have it.
      await db.schema
        .alterTable('order_lines')
        .addColumn('cost', sql`numeric(14,2)`)
        .execute();
      // Co-purchases, kept as orders come (activities/store/copurchases.ts): how many customers
      // bought each item (a category or a product), and how many bought both of each pair, stored
      // both ways round so the pairs of an item are one range of the key.
      await db.schema
        .createTable('copurchase_buyers')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('item', 'text', (c) => c.notNull())
        .addColumn('buyers', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('copurchase_buyers_pk', ['kind', 'item'])
        .execute();
      await sql`create index copurchase_buyers_popular on copurchase_buyers (kind, buyers desc, item)`.execute(db);
      await db.schema
        .createTable('copurchase')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('a', 'text', (c) => c.notNull())
        .addColumn('b', 'text', (c) => c.notNull())
        .addColumn('customers', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('copurchase_pk', ['kind', 'a', 'b'])
        .execute();
      // The orders already there are counted once, now.
      const items = sql`
        select distinct o.customer_id, 'category' as kind, l.category as item
          from orders o join order_lines l on l.order_id = o.id where l.category is not null
        union
        select distinct o.customer_id, 'product', l.product from orders o join order_lines l on l.order_id = o.id`;
      await sql`
        insert into copurchase_buyers (kind, item, buyers)
        select kind, item, count(*) from (${items}) i group by kind, item`.execute(db);
      await sql`
        with i as (${items})
        insert into copurchase (kind, a, b, customers)
        select x.kind, x.item, y.item, count(*) from i x
          join i y on y.customer_id = x.customer_id and y.kind = x.kind and y.item <> x.item
        group by x.kind, x.item, y.item`.execute(db);
    },
  },
  '0022-topics': {
    async up(db: Kysely<unknown>) {
      // Each customer's choice of subscription topics per channel (activities/store/topics.ts), with
      // its evidence as consents keep theirs. No row: subscribed, as far as the marketing consent goes.
      await db.schema
        .createTable('topic_consents')
        .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('subscribed', 'boolean', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
        .addColumn('evidence', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addPrimaryKeyConstraint('topic_consents_pk', ['customer_id', 'channel', 'topic'])
        .execute();
    },
  },
  '0023-send-rate': {
    async up(db: Kysely<unknown>) {
      // One token bucket per channel and sender (activities/send-rate.ts): the time, in milliseconds
      // since the epoch, by which every token taken so far is paid back. Shared by every process.
      await db.schema
        .createTable('send_rate_buckets')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('paid_at', 'double precision', (c) => c.notNull())
        .execute();
    },
  },
  '0024-enrollment-keys': {
    async up(db: Kysely<unknown>) {
      // A keyed journey's enrollments, one per customer and key (entry.key). The workflow id holds a
      // hash of the key, so the one-active-per-workflow index still allows one active per key.
      await db.schema.alterTable('enrollments').addColumn('key', 'text').execute();
    },
  },
  '0025-console-sessions': {
    async up(db: Kysely<unknown>) {
      // The console's sign-ins (client/server/console/): a session per signed-in API key, by the hash
      // of its cookie, in the database so that every Rapport process serving the console knows it.
      await db.schema
        .createTable('console_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
  },
  '0026-customer-search': {
    async up(db: Kysely<unknown>) {
      // Searching customers (GET /v1/customers?q=, activities/store/customer-list.ts): an external id
      // by its value whatever its system, and names by their lower-case prefix, read in order so a
      // search stops after the first matches however many there are.
      await db.schema.createIndex('identities_value').on('identities').column('value').execute();
      // The C collation orders them byte by byte, so a prefix is a range of the index.
      await sql`create index customers_first_name_lower on customers ((lower(first_name) collate "C"), id)
        where merged_into is null`.execute(db);
      await sql`create index customers_last_name_lower on customers ((lower(last_name) collate "C"), id)
        where merged_into is null`.execute(db);
      await sql`create index customers_full_name_lower
        on customers ((lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) collate "C"), id)
        where merged_into is null`.execute(db);
      // Listing customers newest first (sort=created) reads this index, a page at a time.
      await sql`create index customers_created on customers (created_at, id) where merged_into is null`.execute(db);
      // A customer's events and tasks, as erasure and its preview count and blank them.
      await db.schema.createIndex('events_customer').on('events').column('customer_id').execute();
      await db.schema.createIndex('tasks_customer').on('tasks').column('customer_id').execute();
    },
  },
  '0027-enrollments-by-journey': {
    async up(db: Kysely<unknown>) {
      // Customers inside each journey and at each step (the journey list, the console's live graph):
      // counted from the index, without reading every enrollment of every journey.
      await db.schema
        .createIndex('enrollments_journey_status_step')
        .on('enrollments')
        .columns(['journey_id', 'status', 'current_step'])
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
