package iso

import "strings"

// Country time zones. OCPI evaluates tariff restrictions in the location's
// local time (mod_tariffs "TariffRestrictions class": "the time zone is
// defined in the time_zone field of the Location"); when a location has no
// time_zone (it is optional in OCPI 2.1.1 and in quotes), its country is
// the next best fact — but only when the whole country keeps one local
// time. ZoneOf therefore knows two kinds of countries:
//
//   - single-zone countries: every zone IANA tzdata (zone.tab) lists for
//     the country keeps the same UTC offsets, daylight saving included,
//     from 2020 to 2037; ZoneOf returns the main one (e.g. NLD, NL →
//     Europe/Amsterdam; DEU → Europe/Berlin, Busingen keeping Berlin's
//     time);
//   - multi-zone countries (multiZone: USA, CAN, AUS, BRA, MEX, RUS, ESP
//     with the Canary Islands, PRT with the Azores, UKR with Crimea, …):
//     ZoneOf refuses to pick one. Guessing the capital's zone would price a
//     Canary Islands session an hour off without anyone noticing; callers
//     fall back to UTC and say so instead (pricing.ZoneFor).
//
// Generated from tzdata 2025b zone.tab: a country is single-zone when all of
// its zones give the same offset at every hour of 2020-01-01..2037-12-31.

// singleZones lists "alpha-3 alpha-2 zone" per single-zone country.
const singleZones = `
AND AD Europe/Andorra  ARE AE Asia/Dubai  AFG AF Asia/Kabul  ATG AG America/Antigua  AIA AI America/Anguilla
ALB AL Europe/Tirane  ARM AM Asia/Yerevan  AGO AO Africa/Luanda  ARG AR America/Argentina/Buenos_Aires  ASM AS Pacific/Pago_Pago
AUT AT Europe/Vienna  ABW AW America/Aruba  ALA AX Europe/Mariehamn  AZE AZ Asia/Baku  BIH BA Europe/Sarajevo
BRB BB America/Barbados  BGD BD Asia/Dhaka  BEL BE Europe/Brussels  BFA BF Africa/Ouagadougou  BGR BG Europe/Sofia
BHR BH Asia/Bahrain  BDI BI Africa/Bujumbura  BEN BJ Africa/Porto-Novo  BLM BL America/St_Barthelemy  BMU BM Atlantic/Bermuda
BRN BN Asia/Brunei  BOL BO America/La_Paz  BES BQ America/Kralendijk  BHS BS America/Nassau  BTN BT Asia/Thimphu
BWA BW Africa/Gaborone  BLR BY Europe/Minsk  BLZ BZ America/Belize  CCK CC Indian/Cocos  CAF CF Africa/Bangui
COG CG Africa/Brazzaville  CHE CH Europe/Zurich  CIV CI Africa/Abidjan  COK CK Pacific/Rarotonga  CMR CM Africa/Douala
COL CO America/Bogota  CRI CR America/Costa_Rica  CUB CU America/Havana  CPV CV Atlantic/Cape_Verde  CUW CW America/Curacao
CXR CX Indian/Christmas  CYP CY Asia/Nicosia  CZE CZ Europe/Prague  DEU DE Europe/Berlin  DJI DJ Africa/Djibouti
DNK DK Europe/Copenhagen  DMA DM America/Dominica  DOM DO America/Santo_Domingo  DZA DZ Africa/Algiers  EST EE Europe/Tallinn
EGY EG Africa/Cairo  ESH EH Africa/El_Aaiun  ERI ER Africa/Asmara  ETH ET Africa/Addis_Ababa  FIN FI Europe/Helsinki
FJI FJ Pacific/Fiji  FLK FK Atlantic/Stanley  FRO FO Atlantic/Faroe  FRA FR Europe/Paris  GAB GA Africa/Libreville
GBR GB Europe/London  GRD GD America/Grenada  GEO GE Asia/Tbilisi  GUF GF America/Cayenne  GGY GG Europe/Guernsey
GHA GH Africa/Accra  GIB GI Europe/Gibraltar  GMB GM Africa/Banjul  GIN GN Africa/Conakry  GLP GP America/Guadeloupe
GNQ GQ Africa/Malabo  GRC GR Europe/Athens  SGS GS Atlantic/South_Georgia  GTM GT America/Guatemala  GUM GU Pacific/Guam
GNB GW Africa/Bissau  GUY GY America/Guyana  HKG HK Asia/Hong_Kong  HND HN America/Tegucigalpa  HRV HR Europe/Zagreb
HTI HT America/Port-au-Prince  HUN HU Europe/Budapest  IRL IE Europe/Dublin  ISR IL Asia/Jerusalem  IMN IM Europe/Isle_of_Man
IND IN Asia/Kolkata  IOT IO Indian/Chagos  IRQ IQ Asia/Baghdad  IRN IR Asia/Tehran  ISL IS Atlantic/Reykjavik  ITA IT Europe/Rome
JEY JE Europe/Jersey  JAM JM America/Jamaica  JOR JO Asia/Amman  JPN JP Asia/Tokyo  KEN KE Africa/Nairobi  KGZ KG Asia/Bishkek
KHM KH Asia/Phnom_Penh  COM KM Indian/Comoro  KNA KN America/St_Kitts  PRK KP Asia/Pyongyang  KOR KR Asia/Seoul
KWT KW Asia/Kuwait  CYM KY America/Cayman  LAO LA Asia/Vientiane  LBN LB Asia/Beirut  LCA LC America/St_Lucia
LIE LI Europe/Vaduz  LKA LK Asia/Colombo  LBR LR Africa/Monrovia  LSO LS Africa/Maseru  LTU LT Europe/Vilnius
LUX LU Europe/Luxembourg  LVA LV Europe/Riga  LBY LY Africa/Tripoli  MAR MA Africa/Casablanca  MCO MC Europe/Monaco
MDA MD Europe/Chisinau  MNE ME Europe/Podgorica  MAF MF America/Marigot  MDG MG Indian/Antananarivo  MHL MH Pacific/Majuro
MKD MK Europe/Skopje  MLI ML Africa/Bamako  MMR MM Asia/Yangon  MAC MO Asia/Macau  MNP MP Pacific/Saipan
MTQ MQ America/Martinique  MRT MR Africa/Nouakchott  MSR MS America/Montserrat  MLT MT Europe/Malta  MUS MU Indian/Mauritius
MDV MV Indian/Maldives  MWI MW Africa/Blantyre  MYS MY Asia/Kuala_Lumpur  MOZ MZ Africa/Maputo  NAM NA Africa/Windhoek
NCL NC Pacific/Noumea  NER NE Africa/Niamey  NFK NF Pacific/Norfolk  NGA NG Africa/Lagos  NIC NI America/Managua
NLD NL Europe/Amsterdam  NOR NO Europe/Oslo  NPL NP Asia/Kathmandu  NRU NR Pacific/Nauru  NIU NU Pacific/Niue  OMN OM Asia/Muscat
PAN PA America/Panama  PER PE America/Lima  PHL PH Asia/Manila  PAK PK Asia/Karachi  POL PL Europe/Warsaw
SPM PM America/Miquelon  PCN PN Pacific/Pitcairn  PRI PR America/Puerto_Rico  PSE PS Asia/Gaza  PLW PW Pacific/Palau
PRY PY America/Asuncion  QAT QA Asia/Qatar  REU RE Indian/Reunion  ROU RO Europe/Bucharest  SRB RS Europe/Belgrade
RWA RW Africa/Kigali  SAU SA Asia/Riyadh  SLB SB Pacific/Guadalcanal  SYC SC Indian/Mahe  SDN SD Africa/Khartoum
SWE SE Europe/Stockholm  SGP SG Asia/Singapore  SHN SH Atlantic/St_Helena  SVN SI Europe/Ljubljana  SJM SJ Arctic/Longyearbyen
SVK SK Europe/Bratislava  SLE SL Africa/Freetown  SMR SM Europe/San_Marino  SEN SN Africa/Dakar  SOM SO Africa/Mogadishu
SUR SR America/Paramaribo  SSD SS Africa/Juba  STP ST Africa/Sao_Tome  SLV SV America/El_Salvador  SXM SX America/Lower_Princes
SYR SY Asia/Damascus  SWZ SZ Africa/Mbabane  TCA TC America/Grand_Turk  TCD TD Africa/Ndjamena  ATF TF Indian/Kerguelen
TGO TG Africa/Lome  THA TH Asia/Bangkok  TJK TJ Asia/Dushanbe  TKL TK Pacific/Fakaofo  TLS TL Asia/Dili  TKM TM Asia/Ashgabat
TUN TN Africa/Tunis  TON TO Pacific/Tongatapu  TUR TR Europe/Istanbul  TTO TT America/Port_of_Spain  TUV TV Pacific/Funafuti
TWN TW Asia/Taipei  TZA TZ Africa/Dar_es_Salaam  UGA UG Africa/Kampala  URY UY America/Montevideo  UZB UZ Asia/Tashkent
VAT VA Europe/Vatican  VCT VC America/St_Vincent  VEN VE America/Caracas  VGB VG America/Tortola  VIR VI America/St_Thomas
VNM VN Asia/Ho_Chi_Minh  VUT VU Pacific/Efate  WLF WF Pacific/Wallis  WSM WS Pacific/Apia  YEM YE Asia/Aden
MYT YT Indian/Mayotte  ZAF ZA Africa/Johannesburg  ZMB ZM Africa/Lusaka  ZWE ZW Africa/Harare
`

// multiZones lists "alpha-3 alpha-2" per country whose zones differ.
const multiZones = `
ATA AQ AUS AU BRA BR CAN CA COD CD CHL CL CHN CN ECU EC ESP ES FSM FM GRL GL IDN ID KIR KI KAZ KZ MNG MN MEX MX NZL NZ PYF PF PNG PG PRT PT RUS RU UKR UA UMI UM USA US
`

var zoneOf, multiZone = func() (map[string]string, map[string]bool) {
	zones, multi := map[string]string{}, map[string]bool{}
	f := strings.Fields(singleZones)
	for i := 0; i+2 < len(f); i += 3 {
		zones[f[i]], zones[f[i+1]] = f[i+2], f[i+2]
	}
	for _, c := range strings.Fields(multiZones) {
		multi[c] = true
	}
	return zones, multi
}()

// ZoneOf returns the IANA time zone of the country with ISO 3166-1 code c,
// alpha-3 (OCPI's Location.country and CdrLocation.country) or alpha-2, in
// any case, when the whole country keeps one local time; ok is false for
// countries with several zones (MultiZone) and for unknown codes.
func ZoneOf(c string) (zone string, ok bool) {
	zone, ok = zoneOf[strings.ToUpper(strings.TrimSpace(c))]
	return zone, ok
}

// MultiZone reports whether the country with ISO 3166-1 code c (alpha-3 or
// alpha-2, any case) spans several time zones, so that its code alone does
// not give the local time.
func MultiZone(c string) bool { return multiZone[strings.ToUpper(strings.TrimSpace(c))] }
