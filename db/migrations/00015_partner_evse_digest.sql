-- +goose Up
-- Partner EVSE change events (issue 7): a digest of each partner EVSE's
-- content without its timestamps (the last_updated of the EVSE and of its
-- connectors), written with the EVSE by db.SavePartnerLocations and
-- db.SavePartnerEVSE, so that rewriting a location tells a real change
-- from a re-sent or re-stamped EVSE by comparing 16 bytes instead of the
-- objects. EVSEs stored before this migration have none; their first
-- rewrite compares their status only.
ALTER TABLE partner_evse ADD COLUMN digest bytea;

-- +goose Down
ALTER TABLE partner_evse DROP COLUMN digest;
