-- +goose Up
-- The OCPI Token's valid and whitelist reflect the charge authorization
-- rules (issue 4; domain/authrule.Standing): a condition-free deny in force
-- makes a token invalid, a conditional deny or a require_credit rule makes
-- it whitelist NEVER. A rule change (or a rule's validity boundary passing)
-- therefore changes the published tokens of its scope, possibly 100,000 of
-- an administration: the change is recorded here in the rule's transaction
-- and worked off by the worker in batches (db.RecheckTokenRules), which
-- pushes every token whose valid/whitelist differs and moves its
-- last_updated.

-- When the rules last changed a token's published valid/whitelist: it
-- feeds the token's OCPI last_updated (token.Issued.RulesChangedAt), so a
-- CPO pulling with date_from sees the change. A row exists only for tokens
-- the rules ever changed.
CREATE TABLE msp_token_rule_state (
    token_id   uuid PRIMARY KEY REFERENCES msp_token (id),
    changed_at timestamptz NOT NULL
);

-- Rule changes still to compare for the tokens of their scope. before is
-- the rule as it was in force before the change (to_jsonb of the row), NULL
-- when it was not in force (created, or its valid_from just passed); the
-- rule as it is now comes from the rules table. after_token is the batch
-- cursor (tokens are walked in id order).
CREATE TABLE msp_token_rule_recheck (
    id                bigserial PRIMARY KEY,
    rule_id           uuid NOT NULL,
    administration_id uuid NOT NULL,
    plan_id           uuid,
    subscription_id   uuid,
    before            jsonb,
    after_token       uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
CREATE FUNCTION msp_charge_authorization_rule_recheck() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO msp_token_rule_recheck (rule_id, administration_id, plan_id, subscription_id, before)
        VALUES (NEW.id, NEW.administration_id, NEW.plan_id, NEW.subscription_id, NULL);
    ELSE
        INSERT INTO msp_token_rule_recheck (rule_id, administration_id, plan_id, subscription_id, before)
        VALUES (OLD.id, OLD.administration_id, OLD.plan_id, OLD.subscription_id, to_jsonb(OLD));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER msp_charge_authorization_rule_recheck_insert
AFTER INSERT OR DELETE ON msp_charge_authorization_rule
FOR EACH ROW EXECUTE FUNCTION msp_charge_authorization_rule_recheck();

-- Only what decides a rule's effect: a new name costs no recheck.
CREATE TRIGGER msp_charge_authorization_rule_recheck_update
AFTER UPDATE ON msp_charge_authorization_rule
FOR EACH ROW WHEN ((OLD.effect, OLD.valid_from, OLD.valid_until, OLD.cpo_country_codes, OLD.cpo_parties, OLD.location_ids,
    OLD.evse_uids, OLD.days_of_week, OLD.start_time, OLD.end_time, OLD.time_zone)
    IS DISTINCT FROM (NEW.effect, NEW.valid_from, NEW.valid_until, NEW.cpo_country_codes, NEW.cpo_parties, NEW.location_ids,
    NEW.evse_uids, NEW.days_of_week, NEW.start_time, NEW.end_time, NEW.time_zone))
EXECUTE FUNCTION msp_charge_authorization_rule_recheck();

-- +goose Down
DROP TRIGGER msp_charge_authorization_rule_recheck_update ON msp_charge_authorization_rule;
DROP TRIGGER msp_charge_authorization_rule_recheck_insert ON msp_charge_authorization_rule;
DROP FUNCTION msp_charge_authorization_rule_recheck;
DROP TABLE msp_token_rule_recheck;
DROP TABLE msp_token_rule_state;
