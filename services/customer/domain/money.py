"""Which prices are acceptable (ISO 4217 currencies, non-negative, bounded) and how amounts
read in reasons; the Money ↔ Decimal conversions are servicekit.wire's."""

from __future__ import annotations

from decimal import Decimal

from google.type import money_pb2


MAX_UNITS = 10**15

# Active ISO 4217 codes (funds and precious metals excluded: nobody pays for a handbag
# in XAU at the till).
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()
)


def problem(money: money_pb2.Money) -> str | None:
    """Why `money` is not a valid non-negative price, or None."""
    if money.currency_code not in CURRENCIES:
        return "currency_code must be an ISO 4217 code such as EUR"
    if not -999_999_999 <= money.nanos <= 999_999_999:
        return "nanos must be between -999,999,999 and 999,999,999"
    if (money.units > 0 and money.nanos < 0) or (money.units < 0 and money.nanos > 0):
        return "units and nanos must have the same sign"
    if money.units < 0 or money.nanos < 0:
        return "must not be negative"
    if money.units >= MAX_UNITS:
        return "too large"
    return None


def amount_words(amount: Decimal) -> str:
    """"12,400" or "12,400.50": for reasons people read."""
    text = f"{Decimal(amount):,.2f}"
    return text[:-3] if text.endswith(".00") else text


def words(currency: str, amount: Decimal) -> str:
    return f"{currency} {amount_words(amount)}"
