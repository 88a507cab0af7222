"""Which prices are acceptable (ISO 4217 currencies, non-negative, bounded) and how amounts
read in reasons. A price arrives as google.type.Money spells it (currency, units, nanos);
its exact amount is a Decimal, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MAX_UNITS = 10**15
NANO = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class Price:
    """An amount as google.type.Money spells it: whole units and billionths (nanos)."""

    currency: str
    units: int
    nanos: int

    @property
    def amount(self) -> Decimal:
        return Decimal(self.units) + Decimal(self.nanos) * NANO


# Active ISO 4217 codes (funds and precious metals excluded: nobody pays for a handbag
# in XAU at the till).
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """
CURRENCIES = frozenset(_ISO_4217.split())


def problem(price: Price) -> tuple[str, str] | None:
    """Why `price` is not a valid non-negative price, as (the Money field at fault, why), or None."""
    if price.currency not in CURRENCIES:
        return "currency_code", "currency_code must be an ISO 4217 code such as EUR"
    if not -999_999_999 <= price.nanos <= 999_999_999:
        return "nanos", "nanos must be between -999,999,999 and 999,999,999"
    if (price.units > 0 and price.nanos < 0) or (price.units < 0 and price.nanos > 0):
        return "nanos", "units and nanos must have the same sign"
    if price.units < 0 or price.nanos < 0:
        return "units", "must not be negative"
    if price.units >= MAX_UNITS:
        return "units", "too large"
    return None


def amount_words(amount: Decimal) -> str:
    """ "12,400" or "12,400.50": for reasons people read."""
    text = f"{Decimal(amount):,.2f}"
    return text[:-3] if text.endswith(".00") else text


def words(currency: str, amount: Decimal) -> str:
    return f"{currency} {amount_words(amount)}"
