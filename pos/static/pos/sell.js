// The sell screen: keyboard first.  See templates/admin/pos/sell.html.
(() => {
  "use strict";
  const root = document.getElementById("pos");
  if (!root) return;
  const data = root.dataset;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const scan = document.getElementById("scan");
  const cash = document.getElementById("cash");
  const memberQ = document.getElementById("member-q");
  const results = document.getElementById("member-results");
  const message = document.getElementById("message");
  const lastSale = document.getElementById("last-sale");
  let lines = [];
  let member = data.member ? Number(data.member) : null;
  let key = null;  // one per sale: a double Enter or a retry sells once
  let busy = false;

  const money = (minor) => (minor / 100).toLocaleString(document.documentElement.lang || "en", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  const say = (text, error) => { message.textContent = text; message.className = error ? "error" : ""; };
  const lineTotal = (line) => {
    const base = line.price * line.quantity;
    if (line.inclusive) return base;
    return base + Math.round(base * line.rate / 10000);
  };
  const total = () => lines.reduce((sum, line) => sum + lineTotal(line), 0);
  const newKey = () => (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();

  function render() {
    const body = document.querySelector("#lines tbody");
    body.replaceChildren();
    lines.forEach((line, index) => {
      const row = document.createElement("tr");
      const name = document.createElement("td"); name.textContent = line.name;
      const qty = document.createElement("td"); qty.textContent = line.quantity;
      const amount = document.createElement("td"); amount.className = "num"; amount.textContent = money(lineTotal(line));
      const remove = document.createElement("td");
      const button = document.createElement("button"); button.type = "button"; button.textContent = data.tRemove;
      button.addEventListener("click", () => { lines.splice(index, 1); key = null; render(); scan.focus(); });
      remove.append(button);
      row.append(name, qty, amount, remove);
      body.append(row);
    });
    document.getElementById("total").textContent = money(total());
  }

  function addProduct(product) {
    const existing = lines.find((line) => line.kind === "product" && line.id === product.id);
    if (existing) existing.quantity += 1;
    else lines.push({kind: "product", id: product.id, name: (document.documentElement.lang === "th" && product.name_th) || product.name, price: product.price, inclusive: product.prices_include_tax, rate: product.tax_rate_bp, quantity: 1});
    key = null;
    render();
  }

  async function lookup(code) {
    const response = await fetch(`${data.apiProducts}?code=${encodeURIComponent(code)}`, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    if (!response.ok) { say(data.tUnknown, true); return; }
    const found = await response.json();
    addProduct(found.results[0]);
    say("");
  }

  scan.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const code = scan.value.trim();
    scan.value = "";
    if (code) lookup(code);
    else if (lines.length) cash.focus();
  });

  async function submit(body) {
    if (busy) return;
    busy = true;
    key = key || newKey();
    try {
      const response = await fetch(data.apiSales, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf, "Idempotency-Key": key},
        body: JSON.stringify({till: Number(data.till), member: member, ...body}),
      });
      const answer = await response.json();
      if (!response.ok) { say(answer.message || answer.detail || JSON.stringify(answer), true); return; }
      finish(answer);
    } catch (error) {
      say(String(error), true);  // the same key goes again on the next try
    } finally {
      busy = false;
    }
  }

  function finish(sale) {
    const promptpay = sale.tenders.find((t) => t.kind === "promptpay" && t.status === "pending");
    if (sale.status === "completed") {
      const link = document.createElement("a");
      link.href = data.receiptUrl.replace("/0/", `/${sale.id}/`);
      link.target = "_blank";
      link.id = "receipt-link";
      link.textContent = sale.number;
      lastSale.replaceChildren(`${data.tSold} `, link, sale.change_given ? ` · ${data.tChange} ${money(sale.change_given)}` : "");
      say(sale.change_given ? `${data.tChange} ${money(sale.change_given)}` : data.tSold);
    } else if (promptpay) {
      say(data.tWaiting);
      const id = sale.tenders.find((t) => t.kind === "promptpay").promptpay_request;
      if (id) window.location.href = data.promptpayUrl.replace("/0/", `/${id}/`);
    } else {
      say(sale.status, true);
    }
    lines = []; key = null; cash.value = ""; render(); scan.focus();
  }

  function parseMoney(text) {
    const cleaned = text.replace(/[^0-9.]/g, "");
    if (!cleaned) return null;
    const [whole, fraction = ""] = cleaned.split(".");
    return Number(whole) * 100 + Number((fraction + "00").slice(0, 2));
  }

  const saleLines = () => lines.map((line) => line.kind === "pack" ? {kind: "pack", pack: line.id} : {kind: "product", product: line.id, quantity: line.quantity});

  function pay(kind, extra) {
    if (!lines.length) { say(data.tEmpty, true); scan.focus(); return; }
    submit({lines: saleLines(), tenders: [{kind, amount: total(), ...extra}]});
  }

  cash.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const handed = parseMoney(cash.value);
    pay("cash", {tendered: handed === null ? total() : handed});
  });
  document.getElementById("pay-cash").addEventListener("click", () => {
    const handed = parseMoney(cash.value);
    pay("cash", {tendered: handed === null ? total() : handed});
  });
  document.getElementById("pay-terminal").addEventListener("click", () => {
    const reference = window.prompt(data.tReference);
    if (reference) pay("terminal", {reference});
  });
  document.getElementById("pay-card").addEventListener("click", () => pay("card", {}));
  document.getElementById("pay-account").addEventListener("click", () => pay("account", {}));
  const promptpayButton = document.getElementById("pay-promptpay");
  if (promptpayButton) promptpayButton.addEventListener("click", () => pay("promptpay", {}));
  const owed = Number(data.owed || 0);
  const owingCash = document.getElementById("owing-cash");
  if (owingCash) owingCash.addEventListener("click", () => submit({kind: "owing", tenders: [{kind: "cash", amount: owed}]}));
  const owingPromptpay = document.getElementById("owing-promptpay");
  if (owingPromptpay) owingPromptpay.addEventListener("click", () => submit({kind: "owing", tenders: [{kind: "promptpay", amount: owed}]}));

  const deposit = document.getElementById("deposit-cash");
  if (deposit) deposit.addEventListener("click", () => {
    const amount = parseMoney(cash.value);
    if (!amount) { cash.focus(); return; }
    submit({kind: "deposit", deposit: amount, tenders: [{kind: "cash", amount}]});
  });
  document.querySelectorAll(".add-product").forEach((button) => button.addEventListener("click", () => { lookup(button.dataset.code); scan.focus(); }));
  document.querySelectorAll(".add-pack").forEach((button) => button.addEventListener("click", () => {
    lines.push({kind: "pack", id: Number(button.dataset.id), name: button.dataset.name, price: Number(button.dataset.price), inclusive: true, rate: 0, quantity: 1});
    key = null; render(); scan.focus();
  }));

  function choose(found) {
    member = found.id;
    document.getElementById("member-chosen").textContent = `${found.full_name} #${found.member_number}`;
    results.replaceChildren();
    memberQ.value = "";
    key = null;
    scan.focus();
  }

  memberQ.addEventListener("keydown", async (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const term = memberQ.value.trim();
    if (!term) return;
    const response = await fetch(`${data.apiMembers}?q=${encodeURIComponent(term)}&limit=8`, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    const found = response.ok ? (await response.json()).results : [];
    results.replaceChildren();
    if (!found.length) { say(data.tNoMember, true); return; }
    if (found.length === 1) { choose(found[0]); return; }
    found.forEach((one) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${one.full_name} #${one.member_number}`;
      button.addEventListener("click", () => choose(one));
      item.append(button);
      results.append(item);
    });
    results.querySelector("button").focus();
  });

  document.getElementById("clear").addEventListener("click", () => { lines = []; key = null; render(); scan.focus(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "F4") { event.preventDefault(); memberQ.focus(); }
    if (event.key === "F8") { event.preventDefault(); lines = []; key = null; render(); scan.focus(); }
  });
  render();
})();
